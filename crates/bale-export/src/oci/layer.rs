//! One image layer: a set of entries (directory trees placed at a path of
//! the image, and files bale writes itself) as a gzip-compressed tar blob,
//! reproducibly: entries in path order with directories before their
//! contents, one mtime, numeric owners, a fixed gzip level and a gzip
//! header without time or name.
//!
//! An overlay upper directory (the runtime layer) is written the way OCI
//! spells what overlayfs keeps: a whiteout (a 0/0 character device, or a
//! file marked `overlay.whiteout`) becomes `.wh.<name>`, an opaque
//! directory gets `.wh..wh..opq`.

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

use super::tar::{self, Header, Kind};
use crate::ExportError;

/// The gzip level of every layer: fixed, so the same tar gives the same bytes.
const GZIP_LEVEL: u32 = 6;

/// A directory's contents that a container runtime mounts over anyway and
/// a stopped stack should not have: left out, the directory kept.
const MOUNT_POINTS: &[&[u8]] = &[b"proc", b"sys", b"dev"];

/// A blob written into `blobs/sha256/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blob {
    /// `sha256:<hex>` of its bytes.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// A layer blob and the digest of its uncompressed tar (the config's `diff_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerBlob {
    /// The compressed blob.
    pub blob: Blob,
    /// `sha256:<hex>` of the uncompressed tar.
    pub diff_id: String,
}

/// Where an entry's content comes from.
#[derive(Debug, Clone)]
enum Content {
    None,
    File {
        path: PathBuf,
        size: u64,
        inode: Option<(u64, u64)>,
    },
    Bytes(Vec<u8>),
    Link(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Entry {
    /// Relative path inside the image, no leading or trailing `/`.
    path: Vec<u8>,
    kind: Kind,
    mode: u32,
    uid: u32,
    gid: u32,
    content: Content,
}

/// The entries of one layer, gathered before any byte is written so they
/// can be sorted.
#[derive(Debug, Default)]
pub(crate) struct Layer {
    entries: Vec<Entry>,
}

impl Layer {
    /// Adds the tree under `dir` at `at` (a relative path in the image, `""`
    /// for the root); `overlay` reads it as an overlay upper directory.
    pub(crate) fn add_tree(
        &mut self,
        dir: &Path,
        at: &str,
        overlay: bool,
    ) -> Result<(), ExportError> {
        let at = at.trim_matches('/').as_bytes().to_vec();
        if !at.is_empty() {
            self.add_parents(&at, 0o755);
            // The tree's own directory may be a private temporary one: the
            // image's user must be able to enter it.
            self.push_dir(at.clone(), 0o755, 0);
        }
        self.walk(dir, &at, overlay)
    }

    /// Adds a directory owned by `owner` (uid and gid), and its parents owned by root.
    pub(crate) fn add_dir(&mut self, at: &str, mode: u32, owner: u32) {
        let at = at.trim_matches('/').as_bytes().to_vec();
        self.add_parents(&at, 0o755);
        self.push_dir(at, mode, owner);
    }

    /// Adds a file bale writes itself, owned by root, and its parents.
    pub(crate) fn add_file(&mut self, at: &str, mode: u32, bytes: Vec<u8>) {
        let at = at.trim_matches('/').as_bytes().to_vec();
        self.add_parents(&at, 0o755);
        self.entries.push(Entry {
            path: at,
            kind: Kind::File,
            mode,
            uid: 0,
            gid: 0,
            content: Content::Bytes(bytes),
        });
    }

    /// Adds a symbolic link at `at` pointing to `target`, and its parents.
    pub(crate) fn add_symlink(&mut self, at: &str, target: &str) {
        let at = at.trim_matches('/').as_bytes().to_vec();
        self.add_parents(&at, 0o755);
        self.entries.push(Entry {
            path: at,
            kind: Kind::Symlink,
            mode: 0o777,
            uid: 0,
            gid: 0,
            content: Content::Link(target.as_bytes().to_vec()),
        });
    }

    fn add_parents(&mut self, path: &[u8], mode: u32) {
        let mut end = 0;
        while let Some(slash) = path[end..].iter().position(|&b| b == b'/') {
            end += slash;
            self.push_dir(path[..end].to_vec(), mode, 0);
            end += 1;
        }
    }

    fn push_dir(&mut self, path: Vec<u8>, mode: u32, owner: u32) {
        self.entries.push(Entry {
            path,
            kind: Kind::Dir,
            mode,
            uid: owner,
            gid: owner,
            content: Content::None,
        });
    }

    fn walk(&mut self, dir: &Path, at: &[u8], overlay: bool) -> Result<(), ExportError> {
        let listing = fs::read_dir(dir).map_err(|e| ExportError::io(dir, e))?;
        for item in listing {
            let item = item.map_err(|e| ExportError::io(dir, e))?;
            let path = item.path();
            let name = item.file_name();
            let rel = join(at, name.as_bytes());
            let meta = fs::symlink_metadata(&path).map_err(|e| ExportError::io(&path, e))?;
            let file_type = meta.file_type();
            if file_type.is_dir() {
                self.push_dir(rel.clone(), meta.mode(), 0);
                if overlay && has_overlay_mark(&path, "opaque") {
                    self.add_whiteout(join(&rel, b".wh..wh..opq"));
                }
                if at.is_empty() && MOUNT_POINTS.contains(&name.as_bytes()) {
                    continue;
                }
                self.walk(&path, &rel, overlay)?;
            } else if file_type.is_symlink() {
                let target = fs::read_link(&path).map_err(|e| ExportError::io(&path, e))?;
                self.entries.push(Entry {
                    path: rel,
                    kind: Kind::Symlink,
                    mode: 0o777,
                    uid: 0,
                    gid: 0,
                    content: Content::Link(target.as_os_str().as_bytes().to_vec()),
                });
            } else if overlay && is_whiteout(&path, &meta) {
                self.add_whiteout(join(at, &[b".wh.", name.as_bytes()].concat()));
            } else if file_type.is_file() {
                let inode = (meta.nlink() > 1).then(|| (meta.dev(), meta.ino()));
                self.entries.push(Entry {
                    path: rel,
                    kind: Kind::File,
                    mode: meta.mode(),
                    uid: 0,
                    gid: 0,
                    content: Content::File {
                        path,
                        size: meta.len(),
                        inode,
                    },
                });
            }
            // Device nodes, fifos and sockets: a container runtime makes its
            // own /dev, and nothing else of a stack needs them.
        }
        Ok(())
    }

    fn add_whiteout(&mut self, path: Vec<u8>) {
        self.entries.push(Entry {
            path,
            kind: Kind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            content: Content::Bytes(Vec::new()),
        });
    }

    /// Writes the layer as a blob into `blobs` (the layout's `blobs/sha256`).
    pub(crate) fn write(self, blobs: &Path, mtime: u64) -> Result<LayerBlob, ExportError> {
        let mut entries = self.entries;
        // Path order with `/` below every other byte: a directory, then its contents.
        entries.sort_by_cached_key(|e| sort_key(&e.path));
        entries.dedup_by(|later, earlier| later.path == earlier.path);
        let temp = tempfile::Builder::new()
            .prefix(".layer-")
            .tempfile_in(blobs)
            .map_err(|e| ExportError::io(blobs, e))?;
        let file = temp
            .as_file()
            .try_clone()
            .map_err(|e| ExportError::io(temp.path(), e))?;
        let compressed = Hashing::new(BufWriter::with_capacity(1 << 20, file));
        let gzip = GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(compressed, Compression::new(GZIP_LEVEL));
        let mut tar = Hashing::new(BufWriter::with_capacity(1 << 20, gzip));
        let mut first_of_inode: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
        for entry in &entries {
            write_entry(&mut tar, entry, mtime, &mut first_of_inode)
                .map_err(|e| ExportError::io(entry_source(entry, blobs), e))?;
        }
        tar::write_end(&mut tar).map_err(|e| ExportError::io(temp.path(), e))?;
        let (tar_buf, diff_id, _) = tar.finish();
        let gzip = tar_buf
            .into_inner()
            .map_err(|e| ExportError::io(temp.path(), e.into_error()))?;
        let compressed = gzip.finish().map_err(|e| ExportError::io(temp.path(), e))?;
        let (buffer, digest, size) = compressed.finish();
        let file = buffer
            .into_inner()
            .map_err(|e| ExportError::io(temp.path(), e.into_error()))?;
        file.set_permissions(fs::Permissions::from_mode(0o644))
            .and_then(|()| file.sync_all())
            .map_err(|e| ExportError::io(temp.path(), e))?;
        let final_path = blobs.join(&digest);
        temp.persist(&final_path)
            .map_err(|e| ExportError::io(&final_path, e.error))?;
        Ok(LayerBlob {
            blob: Blob {
                digest: format!("sha256:{digest}"),
                size,
            },
            diff_id: format!("sha256:{diff_id}"),
        })
    }
}

/// Writes `bytes` as a blob into `blobs` (the layout's `blobs/sha256`).
pub(crate) fn write_blob(blobs: &Path, bytes: &[u8]) -> Result<Blob, ExportError> {
    let digest = hex(&Sha256::digest(bytes));
    let path = blobs.join(&digest);
    let mut temp = tempfile::Builder::new()
        .prefix(".blob-")
        .tempfile_in(blobs)
        .map_err(|e| ExportError::io(blobs, e))?;
    temp.write_all(bytes)
        .and_then(|()| {
            temp.as_file()
                .set_permissions(fs::Permissions::from_mode(0o644))
        })
        .and_then(|()| temp.as_file().sync_all())
        .map_err(|e| ExportError::io(temp.path(), e))?;
    temp.persist(&path)
        .map_err(|e| ExportError::io(&path, e.error))?;
    Ok(Blob {
        digest: format!("sha256:{digest}"),
        size: bytes.len() as u64,
    })
}

fn write_entry(
    out: &mut impl Write,
    entry: &Entry,
    mtime: u64,
    first_of_inode: &mut HashMap<(u64, u64), Vec<u8>>,
) -> io::Result<()> {
    let mut name = entry.path.clone();
    if entry.kind == Kind::Dir {
        name.push(b'/');
    }
    let mut header = Header {
        name: &name,
        kind: entry.kind,
        mode: entry.mode,
        uid: entry.uid,
        gid: entry.gid,
        size: 0,
        mtime,
        link: b"",
    };
    match &entry.content {
        Content::None => tar::write_header(out, &header),
        Content::Link(target) => {
            header.link = target;
            tar::write_header(out, &header)
        }
        Content::Bytes(bytes) => {
            header.size = bytes.len() as u64;
            tar::write_header(out, &header)?;
            out.write_all(bytes)?;
            tar::pad(out, bytes.len() as u64)
        }
        Content::File { path, size, inode } => {
            if let Some(inode) = inode {
                if let Some(first) = first_of_inode.get(inode) {
                    return tar::write_header(
                        out,
                        &Header {
                            kind: Kind::HardLink,
                            link: first,
                            ..header
                        },
                    );
                }
                first_of_inode.insert(*inode, entry.path.clone());
            }
            header.size = *size;
            tar::write_header(out, &header)?;
            let copied = io::copy(&mut File::open(path)?.take(*size), out)?;
            if copied != *size {
                return Err(io::Error::other(format!(
                    "the file shrank from {size} to {copied} bytes while it was read"
                )));
            }
            tar::pad(out, *size)
        }
    }
}

/// The file an entry's write error is about (for the message).
fn entry_source(entry: &Entry, fallback: &Path) -> PathBuf {
    match &entry.content {
        Content::File { path, .. } => path.clone(),
        _ => fallback.to_path_buf(),
    }
}

fn sort_key(path: &[u8]) -> Vec<u8> {
    path.iter()
        .map(|&b| if b == b'/' { 0 } else { b })
        .collect()
}

fn join(at: &[u8], name: &[u8]) -> Vec<u8> {
    if at.is_empty() {
        name.to_vec()
    } else {
        [at, b"/", name].concat()
    }
}

/// Whether `path` (with metadata `meta`) is an overlayfs whiteout: a 0/0
/// character device, or (unprivileged overlays) an empty file marked so.
fn is_whiteout(path: &Path, meta: &fs::Metadata) -> bool {
    let file_type = meta.file_type();
    (file_type.is_char_device() && meta.rdev() == 0)
        || (file_type.is_file() && meta.len() == 0 && has_overlay_mark(path, "whiteout"))
}

/// Whether `path` carries overlayfs's `trusted.overlay.<mark>` or (made
/// without privileges) `user.overlay.<mark>` extended attribute.
fn has_overlay_mark(path: &Path, mark: &str) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    ["trusted", "user"].iter().any(|ns| {
        let Ok(name) = CString::new(format!("{ns}.overlay.{mark}")) else {
            return false;
        };
        let mut value = [0u8; 8];
        // SAFETY: both strings are NUL-terminated and the buffer's length is passed.
        let n = unsafe {
            libc::lgetxattr(
                c_path.as_ptr(),
                name.as_ptr(),
                value.as_mut_ptr().cast(),
                value.len(),
            )
        };
        // `opaque` holds "y"; `whiteout` may be empty.
        n >= 0 && (mark != "opaque" || value.first() == Some(&b'y'))
    })
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner writer, the hex sha256 and the byte count of what was written.
    fn finish(self) -> (W, String, u64) {
        (self.inner, hex(&self.hasher.finalize()), self.count)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// `tar -tvzf` of a layer blob: one line per entry.
    fn listing(blobs: &Path, blob: &LayerBlob) -> String {
        let path = blobs.join(blob.blob.digest.trim_start_matches("sha256:"));
        let out = Command::new("tar")
            .env("TZ", "UTC")
            .arg("--numeric-owner")
            .arg("-tvzf")
            .arg(&path)
            .output()
            .expect("run tar");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn an_overlay_upper_becomes_oci_whiteouts_and_hard_links_stay_links() {
        if !bale_testkit::require(
            bale_testkit::is_root(),
            "making a whiteout (mknod 0/0) needs root",
        ) {
            return;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let upper = dir.path().join("upper");
        fs::create_dir_all(upper.join("etc/opaque")).expect("mkdir");
        fs::write(upper.join("etc/opaque/kept"), "x").expect("write");
        fs::write(upper.join("etc/a"), "a").expect("write");
        fs::hard_link(upper.join("etc/a"), upper.join("etc/b")).expect("link");
        let status = Command::new("mknod")
            .arg(upper.join("etc/gone"))
            .args(["c", "0", "0"])
            .status()
            .expect("mknod");
        assert!(status.success());
        let path = CString::new(upper.join("etc/opaque").as_os_str().as_bytes()).expect("path");
        // SAFETY: NUL-terminated strings and a one-byte value of the given length.
        let set = unsafe {
            libc::lsetxattr(
                path.as_ptr(),
                c"trusted.overlay.opaque".as_ptr(),
                b"y".as_ptr().cast(),
                1,
                0,
            )
        };
        assert_eq!(set, 0, "setting trusted.overlay.opaque");
        let long = "d".repeat(120);
        fs::create_dir_all(upper.join(&long)).expect("mkdir");
        fs::write(upper.join(&long).join("f"), "long").expect("write");
        let blobs = dir.path().join("blobs");
        fs::create_dir_all(&blobs).expect("mkdir");
        let mut layer = Layer::default();
        layer.add_tree(&upper, "", true).expect("add");
        let blob = layer.write(&blobs, 1_700_000_000).expect("write");
        let list = listing(&blobs, &blob);
        let names: Vec<&str> = list
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .collect();
        assert!(names.contains(&"etc/.wh.gone"), "{list}");
        assert!(!names.contains(&"etc/gone"), "{list}");
        assert!(names.contains(&"etc/opaque/.wh..wh..opq"), "{list}");
        assert!(list.contains("etc/b link to etc/a"), "{list}");
        assert!(names.contains(&format!("{long}/f").as_str()), "{list}");
        assert!(list.lines().all(|l| l.contains(" 0/0 ")), "{list}");
        assert!(
            list.lines().all(|l| l.contains("2023-11-14 22:13")),
            "{list}"
        );

        // The same tree again: the same bytes.
        let mut again = Layer::default();
        again.add_tree(&upper, "", true).expect("add");
        let second = again.write(&blobs, 1_700_000_000).expect("write");
        assert_eq!(blob, second);
    }

    #[test]
    fn directories_come_before_their_contents_and_siblings_after() {
        let mut keys = [b"a-c".to_vec(), b"a/b".to_vec(), b"a".to_vec()];
        keys.sort_by_key(|k| sort_key(k));
        assert_eq!(keys, [b"a".to_vec(), b"a/b".to_vec(), b"a-c".to_vec()]);
    }
}
