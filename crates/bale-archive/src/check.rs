//! Checking a tar stream against its index, entry by entry, as it streams:
//! what [`crate::unpack`] and [`crate::verify`] share.

use std::collections::HashMap;
use std::io::BufRead;

use sha2::{Digest, Sha256};

use crate::index::{EntryType, Index};
use crate::tar_header::{BLOCK, RECORD};
use crate::tar_stream::{Entry, TarStream};
use crate::{paths, ArchiveError, Limits};

/// Where checked entries go: a directory on disk, or nowhere.
pub(crate) trait Sink {
    /// Creates a directory.
    fn dir(&mut self, path: &str) -> Result<(), ArchiveError>;
    /// Creates a symlink.
    fn symlink(&mut self, path: &str, target: &str) -> Result<(), ArchiveError>;
    /// Starts a regular file.
    fn begin_file(&mut self, path: &str, executable: bool) -> Result<(), ArchiveError>;
    /// Appends content to the file begun last.
    fn write(&mut self, bytes: &[u8]) -> Result<(), ArchiveError>;
    /// Closes the file begun last.
    fn end_file(&mut self) -> Result<(), ArchiveError>;
    /// Everything is written and checked.
    fn finish(&mut self) -> Result<(), ArchiveError>;
}

/// A sink that writes nothing, for verifying.
pub(crate) struct NullSink;

impl Sink for NullSink {
    fn dir(&mut self, _: &str) -> Result<(), ArchiveError> {
        Ok(())
    }
    fn symlink(&mut self, _: &str, _: &str) -> Result<(), ArchiveError> {
        Ok(())
    }
    fn begin_file(&mut self, _: &str, _: bool) -> Result<(), ArchiveError> {
        Ok(())
    }
    fn write(&mut self, _: &[u8]) -> Result<(), ArchiveError> {
        Ok(())
    }
    fn end_file(&mut self) -> Result<(), ArchiveError> {
        Ok(())
    }
    fn finish(&mut self) -> Result<(), ArchiveError> {
        Ok(())
    }
}

/// Reads the leading `.bale/`, `.bale/index.json` and `.bale/manifest.toml`
/// entries; returns the parsed, checked index and the manifest's bytes.
pub(crate) fn read_head<R: BufRead>(
    tar: &mut TarStream<R>,
    limits: &Limits,
    sink: &mut impl Sink,
) -> Result<(Index, Vec<u8>), ArchiveError> {
    match tar.next_entry()? {
        Entry::Dir { path, mode } if path == paths::BALE_DIR => {
            check_mode_bits(&path, mode)?;
            sink.dir(&path)?;
        }
        other => {
            return Err(ArchiveError::MissingIndex(format!(
                "the archive starts with {}, not `.bale/`",
                describe(&other)
            )))
        }
    }
    let index_json = read_head_file(tar, paths::INDEX_PATH, limits, sink)?;
    let index = Index::from_json(&index_json, limits)?;
    let manifest = read_head_file(tar, paths::MANIFEST_PATH, limits, sink)?;
    Ok((index, manifest))
}

/// Reads the head entry `expected`, bounded by the index limit.
fn read_head_file<R: BufRead>(
    tar: &mut TarStream<R>,
    expected: &str,
    limits: &Limits,
    sink: &mut impl Sink,
) -> Result<Vec<u8>, ArchiveError> {
    match tar.next_entry()? {
        Entry::File { path, mode, size } if path == expected => {
            check_mode_bits(&path, mode)?;
            if size > limits.max_index_bytes {
                return Err(ArchiveError::LimitExceeded {
                    what: "index and manifest bytes",
                    limit: limits.max_index_bytes,
                });
            }
            let bytes = tar.read_to_vec(size)?;
            sink.begin_file(&path, false)?;
            sink.write(&bytes)?;
            sink.end_file()?;
            Ok(bytes)
        }
        other => Err(ArchiveError::MissingIndex(format!(
            "expected `{expected}` next, found {}",
            describe(&other)
        ))),
    }
}

/// Streams every entry after the head, checking each against `index`
/// before anything of it reaches `sink`, then checks nothing is missing.
pub(crate) fn check_entries<R: BufRead>(
    tar: &mut TarStream<R>,
    index: &Index,
    sink: &mut impl Sink,
) -> Result<(), ArchiveError> {
    let positions: HashMap<&str, usize> = index
        .files
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.as_str(), i))
        .collect();
    let mut seen = vec![false; index.files.len()];
    tar.limit_to(tar.offset().saturating_add(declared_bytes(index)));
    loop {
        let entry = tar.next_entry()?;
        let (path, mode) = match &entry {
            Entry::End => break,
            Entry::File { path, mode, .. }
            | Entry::Dir { path, mode }
            | Entry::Symlink { path, mode, .. } => (path.as_str(), *mode),
        };
        paths::check_relative(path)?;
        check_mode_bits(path, mode)?;
        check_parent(path, index, &positions, &seen)?;
        if let Entry::Symlink { target, .. } = &entry {
            paths::check_symlink(path, target)?;
        }
        let Some(&i) = positions.get(path) else {
            return Err(ArchiveError::ExtraEntry {
                path: path.to_string(),
            });
        };
        if seen[i] {
            return Err(ArchiveError::Duplicate {
                path: path.to_string(),
            });
        }
        let record = &index.files[i];
        let found = match &entry {
            Entry::File { .. } => EntryType::File,
            Entry::Dir { .. } => EntryType::Dir,
            _ => EntryType::Symlink,
        };
        if found != record.entry_type {
            return Err(ArchiveError::mismatch(
                path,
                format!(
                    "the index says {}, the archive has {found}",
                    record.entry_type
                ),
            ));
        }
        match &entry {
            Entry::Dir { .. } => {
                expect_mode(path, mode, record.mode)?;
                sink.dir(path)?;
            }
            Entry::Symlink { target, .. } => {
                if record.target.as_deref() != Some(target.as_str()) {
                    return Err(ArchiveError::mismatch(
                        path,
                        format!(
                            "the index says target `{}`, the archive has `{target}`",
                            record.target.as_deref().unwrap_or("(none)")
                        ),
                    ));
                }
                sink.symlink(path, target)?;
            }
            Entry::File { size, .. } => {
                if record.size != Some(*size) {
                    return Err(ArchiveError::mismatch(
                        path,
                        format!(
                            "the index says {} bytes, the archive has {size}",
                            record
                                .size
                                .map_or_else(|| "no size and no".to_owned(), |s| s.to_string())
                        ),
                    ));
                }
                expect_mode(path, mode, record.mode)?;
                sink.begin_file(path, mode & 0o777 == 0o755)?;
                let mut hasher = Sha256::new();
                tar.read_data(*size, |piece| {
                    hasher.update(piece);
                    sink.write(piece)
                })?;
                sink.end_file()?;
                let sha256 = hex::encode(hasher.finalize());
                if record.sha256.as_deref() != Some(sha256.as_str()) {
                    return Err(ArchiveError::mismatch(
                        path,
                        format!(
                            "sha256 is {sha256}, the index says {}",
                            record.sha256.as_deref().unwrap_or("none")
                        ),
                    ));
                }
            }
            Entry::End => {}
        }
        seen[i] = true;
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(ArchiveError::MissingEntry {
            path: index.files[i].path.clone(),
        });
    }
    tar.finish()?;
    sink.finish()
}

/// The most the tar stream after the head can take for what `index`
/// declares: each entry's header (with a PAX header for a long path or
/// target) and padded content, then the end marker and the record padding.
fn declared_bytes(index: &Index) -> u64 {
    let block = BLOCK as u64;
    let round = |n: u64| n.div_ceil(block).saturating_mul(block);
    let entries = index.files.iter().fold(0u64, |sum, record| {
        let names = (record.path.len() + record.target.as_ref().map_or(0, String::len)) as u64;
        let headers = 2 * block + round(names.saturating_mul(2).saturating_add(128));
        sum.saturating_add(headers)
            .saturating_add(round(record.size.unwrap_or(0)))
    });
    entries.saturating_add(2 * block).saturating_add(RECORD)
}

/// Refuses setuid, setgid and sticky bits.
fn check_mode_bits(path: &str, mode: u32) -> Result<(), ArchiveError> {
    if mode & 0o7000 != 0 {
        return Err(ArchiveError::SpecialMode {
            path: path.to_string(),
            mode,
        });
    }
    Ok(())
}

fn expect_mode(path: &str, mode: u32, recorded: Option<u32>) -> Result<(), ArchiveError> {
    if Some(mode & 0o777) != recorded {
        return Err(ArchiveError::mismatch(
            path,
            format!(
                "mode is {:o}, the index says {:o}",
                mode & 0o777,
                recorded.unwrap_or(0)
            ),
        ));
    }
    Ok(())
}

/// An entry goes only into a directory already unpacked, and never through
/// a symlink.
fn check_parent(
    path: &str,
    index: &Index,
    positions: &HashMap<&str, usize>,
    seen: &[bool],
) -> Result<(), ArchiveError> {
    let Some(parent) = paths::parent(path) else {
        return Ok(());
    };
    let mut ancestor = Some(parent);
    while let Some(dir) = ancestor {
        if let Some(&j) = positions.get(dir) {
            if seen[j] && index.files[j].entry_type == EntryType::Symlink {
                return Err(ArchiveError::ThroughSymlink {
                    path: path.to_string(),
                    symlink: dir.to_string(),
                });
            }
        }
        ancestor = paths::parent(dir);
    }
    match positions.get(parent) {
        Some(&j) if seen[j] && index.files[j].entry_type == EntryType::Dir => Ok(()),
        _ => Err(ArchiveError::MissingParent {
            path: path.to_string(),
            parent: parent.to_string(),
        }),
    }
}

fn describe(entry: &Entry) -> String {
    match entry {
        Entry::File { path, .. } => format!("the file `{path}`"),
        Entry::Dir { path, .. } => format!("the directory `{path}/`"),
        Entry::Symlink { path, .. } => format!("the symlink `{path}`"),
        Entry::End => "the end of the archive".to_string(),
    }
}
