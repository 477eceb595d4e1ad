//! The first pass of packing: walk the package root, hash and classify every
//! file (in parallel), and hold the sorted records the index is made of,
//! with the content of small files, so the second pass need not reopen them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::index::{EntryType, FileRecord};
use crate::{facts, paths, ArchiveError};

/// Read buffer for hashing; large enough that syscalls do not dominate.
const HASH_BUFFER: usize = 256 << 10;

/// A scanned package root: every entry's record, sorted, ready to write.
#[derive(Debug, Clone)]
pub struct PackageTree {
    root: PathBuf,
    records: Vec<FileRecord>,
    /// What each regular file looked like when hashed (`None` for others),
    /// so the second pass can tell a file changed in between.
    stamps: Vec<Option<Stamp>>,
    /// Content held in memory (aligned with `records`): small files as they
    /// were hashed, so the second pass need not open them again, and the
    /// files bale adds that are not on disk (e.g. generated `script.d/`).
    kept: Vec<Option<Content>>,
}

/// A file's bytes held in memory.
pub(crate) type Content = Box<[u8]>;

/// Size and modification time of a file when it was hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub size: u64,
    pub mtime: i64,
    pub mtime_nsec: i64,
}

impl Stamp {
    pub(crate) fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            size: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

impl PackageTree {
    /// Walks `root` (not following symlinks), hashing and classifying every
    /// regular file on all cores.
    ///
    /// Refuses device nodes, fifos, sockets, a `.bale` entry at the top,
    /// non-UTF-8 names and relative symlinks that point out of the root.
    pub fn scan(root: &Path) -> Result<PackageTree, ArchiveError> {
        let mut records = Vec::new();
        walk(root, "", &mut records)?;
        records.sort_by(|a, b| a.path.cmp(&b.path));
        let Hashes { stamps, kept } = hash_files(root, &mut records)?;
        Ok(PackageTree {
            root: root.to_path_buf(),
            records,
            stamps,
            kept,
        })
    }

    /// The package root that was scanned.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every entry's record, sorted by path, as the index lists them.
    pub fn records(&self) -> &[FileRecord] {
        &self.records
    }

    /// Sum of the regular files' sizes.
    pub fn installed_size(&self) -> u64 {
        self.records.iter().filter_map(|r| r.size).sum()
    }

    /// DT_NEEDED sonames that no shipped file provides, by soname or by file
    /// name; the caller maps them to the stack's Debian packages.
    pub fn needed_not_shipped(&self) -> BTreeSet<String> {
        self.needed_not_shipped_by().into_keys().collect()
    }

    /// Each DT_NEEDED soname that no shipped file provides, with the paths
    /// of the files that need it (sorted), so an error can name them.
    pub fn needed_not_shipped_by(&self) -> BTreeMap<String, Vec<String>> {
        let mut provided: BTreeSet<&str> = BTreeSet::new();
        for record in &self.records {
            if record.entry_type != EntryType::Dir {
                provided.insert(record.path.rsplit('/').next().unwrap_or(&record.path));
            }
            if let Some(soname) = record.elf.as_ref().and_then(|e| e.soname.as_deref()) {
                provided.insert(soname);
            }
        }
        let mut needed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for record in &self.records {
            let Some(elf) = record.elf.as_ref() else {
                continue;
            };
            for soname in elf.needed.iter().filter(|n| !provided.contains(n.as_str())) {
                needed
                    .entry(soname.clone())
                    .or_default()
                    .push(record.path.clone());
            }
        }
        needed
    }

    pub(crate) fn stamps(&self) -> &[Option<Stamp>] {
        &self.stamps
    }

    /// The content held in memory, aligned with [`Self::records`].
    pub(crate) fn kept(&self) -> &[Option<Content>] {
        &self.kept
    }

    /// Adds a file that is not in the root on disk (such as a generated
    /// `script.d/start.sh`), with any missing parent directories.
    ///
    /// Refuses a path the root already holds, and paths outside the root.
    pub fn add_generated(
        &mut self,
        path: &str,
        content: Vec<u8>,
        executable: bool,
    ) -> Result<(), ArchiveError> {
        paths::check_relative(path)?;
        if self.records.iter().any(|r| r.path == path) {
            return Err(ArchiveError::Duplicate {
                path: path.to_string(),
            });
        }
        let mut parent = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            match self.records.iter().find(|r| r.path == parent) {
                Some(r) if r.entry_type == EntryType::Dir => {}
                Some(_) => {
                    return Err(ArchiveError::Duplicate {
                        path: parent.clone(),
                    })
                }
                None => self.insert(
                    record(parent.clone(), EntryType::Dir, Some(0o755)),
                    None,
                    None,
                ),
            }
        }
        let mut file = record(
            path.to_string(),
            EntryType::File,
            Some(if executable { 0o755 } else { 0o644 }),
        );
        file.size = Some(content.len() as u64);
        file.sha256 = Some(hex::encode(Sha256::digest(&content)));
        file.class = Some(bale_inspect::classify(path, &content));
        let stamp = Stamp {
            size: content.len() as u64,
            mtime: 0,
            mtime_nsec: 0,
        };
        self.insert(file, Some(stamp), Some(content.into_boxed_slice()));
        Ok(())
    }

    /// Inserts a record at its sorted place, keeping stamps and content aligned.
    fn insert(&mut self, record: FileRecord, stamp: Option<Stamp>, content: Option<Content>) {
        let at = self.records.partition_point(|r| r.path < record.path);
        self.records.insert(at, record);
        self.stamps.insert(at, stamp);
        self.kept.insert(at, content);
    }
}

/// Collects the records under `dir` (`rel` inside the root), unsorted.
fn walk(dir: &Path, rel: &str, out: &mut Vec<FileRecord>) -> Result<(), ArchiveError> {
    let entries = fs::read_dir(dir).map_err(|e| ArchiveError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ArchiveError::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| ArchiveError::NonUtf8Path { path: path.clone() })?;
        let child = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        if child == paths::BALE_DIR {
            return Err(ArchiveError::ReservedPath { path });
        }
        // The directory entry's type saves a stat per file; a regular
        // file's mode and size come from the descriptor it is hashed through.
        let file_type = entry.file_type().map_err(|e| ArchiveError::io(&path, e))?;
        let record = if file_type.is_dir() {
            walk(&path, &child, out)?;
            record(child, EntryType::Dir, Some(0o755))
        } else if file_type.is_file() {
            record(child, EntryType::File, None)
        } else if file_type.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| ArchiveError::io(&path, e))?;
            let target = target
                .into_os_string()
                .into_string()
                .map_err(|_| ArchiveError::NonUtf8Path { path: path.clone() })?;
            paths::check_symlink(&child, &target)?;
            let mut r = record(child, EntryType::Symlink, None);
            r.target = Some(target);
            r
        } else {
            let kind = if file_type.is_fifo() {
                "fifo"
            } else if file_type.is_socket() {
                "socket"
            } else {
                "device node"
            };
            return Err(ArchiveError::UnsupportedFileType { path, kind });
        };
        out.push(record);
    }
    Ok(())
}

fn record(path: String, entry_type: EntryType, mode: Option<u32>) -> FileRecord {
    FileRecord {
        path,
        entry_type,
        mode,
        size: None,
        sha256: None,
        class: None,
        elf: None,
        target: None,
    }
}

/// Files up to this size are kept in memory between the two passes...
const KEEP_FILE: u64 = 64 << 10;
/// ...while their total stays under this.
const KEEP_TOTAL: u64 = 256 << 20;

/// What hashing leaves beside the records, aligned with them.
struct Hashes {
    stamps: Vec<Option<Stamp>>,
    kept: Vec<Option<Content>>,
}

/// Hashes and classifies every regular file in `records`, one worker per core,
/// keeping the small files' content.
fn hash_files(root: &Path, records: &mut [FileRecord]) -> Result<Hashes, ArchiveError> {
    let files: Vec<usize> = (0..records.len())
        .filter(|&i| records[i].entry_type == EntryType::File)
        .collect();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let keep_budget = AtomicU64::new(KEEP_TOTAL);
    let results: Mutex<Vec<(usize, Result<Hashed, ArchiveError>)>> = Mutex::new(Vec::new());
    let shared: &[FileRecord] = records;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut buffer = vec![0u8; HASH_BUFFER];
                let mut mine = Vec::new();
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&i) = files.get(at) else { break };
                    let rel = &shared[i].path;
                    mine.push((
                        i,
                        hash_file(&root.join(rel), rel, &mut buffer, &keep_budget),
                    ));
                }
                if let Ok(mut all) = results.lock() {
                    all.extend(mine);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    // The first failing file by path, whatever the scheduling was.
    results.sort_by_key(|(i, _)| *i);
    let mut stamps = vec![None; records.len()];
    let mut kept = vec![None; records.len()];
    for (i, result) in results {
        let hashed = result?;
        let record = &mut records[i];
        record.mode = Some(hashed.mode);
        record.size = Some(hashed.stamp.size);
        record.sha256 = Some(hashed.sha256);
        record.class = Some(hashed.facts.class);
        record.elf = hashed.facts.elf;
        stamps[i] = Some(hashed.stamp);
        kept[i] = hashed.content;
    }
    Ok(Hashes { stamps, kept })
}

struct Hashed {
    sha256: String,
    facts: bale_inspect::FileFacts,
    stamp: Stamp,
    mode: u32,
    content: Option<Content>,
}

fn hash_file(
    path: &Path,
    rel: &str,
    buffer: &mut [u8],
    keep_budget: &AtomicU64,
) -> Result<Hashed, ArchiveError> {
    let io = |e| ArchiveError::io(path, e);
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        // Replaced since the walk saw a regular file there.
        return Err(ArchiveError::ChangedWhilePacking {
            path: rel.to_string(),
        });
    }
    let mode = if meta.mode() & 0o111 != 0 {
        0o755
    } else {
        0o644
    };
    let stamp = Stamp::of(&meta);
    let mut hasher = Sha256::new();
    let mut remaining = stamp.size;
    let mut facts = None;
    let mut content = None;
    // Reading exactly the size seen avoids a last empty read per small file;
    // a file that grows afterwards is caught by its stamp in the second pass.
    while facts.is_none() || remaining > 0 {
        let want = remaining.min(buffer.len() as u64) as usize;
        let n = read_full(&mut file, &mut buffer[..want]).map_err(io)?;
        if n < want {
            return Err(ArchiveError::ChangedWhilePacking {
                path: rel.to_string(),
            });
        }
        if facts.is_none() {
            facts = Some(facts::file_facts(path, rel, &buffer[..n])?);
            if stamp.size <= KEEP_FILE && n as u64 == stamp.size && take(keep_budget, stamp.size) {
                content = Some(Box::from(&buffer[..n]));
            }
        }
        hasher.update(&buffer[..n]);
        remaining -= n as u64;
    }
    let facts = match facts {
        Some(facts) => facts,
        None => facts::file_facts(path, rel, &[])?,
    };
    Ok(Hashed {
        sha256: hex::encode(hasher.finalize()),
        facts,
        stamp,
        mode,
        content,
    })
}

/// Takes `size` bytes from `budget` if that many are left.
fn take(budget: &AtomicU64, size: u64) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(size)
        })
        .is_ok()
}

/// Reads until `buffer` is full or the end of the file.
pub(crate) fn read_full(file: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
