//! File-system helpers every crate shares: atomic writes, directory syncs,
//! tree removal, one time for a whole tree, and the clock in the units bale
//! records.
//!
//! "Nothing half-done is visible" (docs/architecture.md): a file is written under
//! a temporary name, synced, renamed over the old one, and the directory is
//! synced so the rename itself survives a crash. Every crate writes its
//! state through [`write_atomic`] or [`AtomicWrite`] rather than its own copy.
//!
//! Errors are [`FsError`]: the `io::Error` and the path it is about (the
//! temporary file, the file or the directory, whichever failed), for each
//! crate to turn into its own error.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

mod times;

pub use times::set_tree_times;

/// An I/O error and the path it is about.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FsError {
    /// The file or directory the failed operation was about.
    pub path: PathBuf,
    /// What the system said.
    #[source]
    pub source: io::Error,
}

impl FsError {
    fn at(path: &Path) -> impl FnOnce(io::Error) -> FsError + '_ {
        move |source| FsError {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The kind of the underlying I/O error.
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }
}

/// How [`AtomicWrite::write`] writes: the file's mode, and whether it may
/// replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtomicWrite {
    mode: u32,
    replace: bool,
}

impl Default for AtomicWrite {
    fn default() -> Self {
        Self {
            mode: 0o644,
            replace: true,
        }
    }
}

impl AtomicWrite {
    /// Mode 0644, replacing an existing file.
    pub fn new() -> Self {
        Self::default()
    }

    /// The new file's permission bits (the umask does not apply).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Fails with [`io::ErrorKind::AlreadyExists`] instead of replacing a file.
    pub fn keep_existing(mut self) -> Self {
        self.replace = false;
        self
    }

    /// Writes `bytes` to `path` so that a crash at any point leaves the old
    /// file or the new one: a temporary name beside it, fsync, rename, fsync
    /// of the directory.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), FsError> {
        let dir = parent_of(path);
        let mut temp = tempfile::Builder::new()
            .prefix(".tmp-")
            .permissions(Permissions::from_mode(self.mode))
            .tempfile_in(dir)
            .map_err(FsError::at(dir))?;
        let temp_path = temp.path().to_path_buf();
        temp.write_all(bytes)
            // The umask may have narrowed the mode at creation.
            .and_then(|()| {
                temp.as_file()
                    .set_permissions(Permissions::from_mode(self.mode))
            })
            .and_then(|()| temp.as_file().sync_all())
            .map_err(FsError::at(&temp_path))?;
        let persisted = if self.replace {
            temp.persist(path)
        } else {
            temp.persist_noclobber(path)
        };
        persisted.map_err(|e| FsError::at(path)(e.error))?;
        sync_dir(dir)
    }
}

/// Writes `bytes` to `path` atomically with mode 0644; see [`AtomicWrite`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FsError> {
    AtomicWrite::new().write(path, bytes)
}

/// Flushes a directory's entries (names created, renamed or removed in it)
/// to disk: a rename is durable only once its directory is synced.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(FsError::at(dir))
}

/// Syncs every directory of the tree at `dir`, children first, so the names
/// of everything written into it (an unpacked package) are durable.
pub fn sync_tree(dir: &Path) -> Result<(), FsError> {
    for entry in fs::read_dir(dir).map_err(FsError::at(dir))? {
        let entry = entry.map_err(FsError::at(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(FsError::at(&path))?.is_dir() {
            sync_tree(&path)?;
        }
    }
    sync_dir(dir)
}

/// Removes the tree at `path`; one that is not there is already removed.
pub fn remove_tree(path: &Path) -> Result<(), FsError> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(FsError::at(path)(e)),
        _ => Ok(()),
    }
}

/// Removes the tree at `path` even where its directories are read-only (an
/// installed package, a build that took away its own write access): when a
/// plain removal fails, opens every directory to its owner and tries again.
pub fn remove_read_only_tree(path: &Path) -> Result<(), FsError> {
    // Trying first keeps the common case to one pass: as root, or over
    // writable directories, nothing needs opening.
    if remove_tree(path).is_ok() {
        return Ok(());
    }
    open_directories(path);
    remove_tree(path)
}

/// Gives the owner read, write and search permission on every directory of
/// the tree where it lacks one, parents before children (best effort).
fn open_directories(dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    if meta.mode() & 0o700 != 0o700 {
        let _ = fs::set_permissions(dir, Permissions::from_mode((meta.mode() | 0o700) & 0o7777));
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            open_directories(&entry.path());
        }
    }
}

/// Milliseconds since the Unix epoch (0 on a clock set before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Seconds since the Unix epoch (0 on a clock set before it).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The directory a file is created in: its parent, or `.` for a bare name.
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.json");
        fs::write(&path, "old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(names(dir.path()), ["record.json"]);
    }

    #[test]
    fn an_atomic_write_sets_the_mode_whatever_the_umask() {
        let dir = tempfile::tempdir().unwrap();
        let public = dir.path().join("a.pub");
        let secret = dir.path().join("a.key");
        write_atomic(&public, b"p").unwrap();
        AtomicWrite::new().mode(0o600).write(&secret, b"s").unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&public), 0o644);
        assert_eq!(mode(&secret), 0o600);
    }

    #[test]
    fn keep_existing_refuses_to_replace_and_keeps_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.key");
        fs::write(&path, "old").unwrap();
        let err = AtomicWrite::new()
            .keep_existing()
            .write(&path, b"new")
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(err.path, path);
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(names(dir.path()), ["a.key"]);
    }

    #[test]
    fn an_atomic_write_into_a_missing_directory_names_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = write_atomic(&missing.join("f"), b"x").unwrap_err();
        assert_eq!(err.path, missing);
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn removing_a_missing_tree_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        remove_tree(&dir.path().join("gone")).unwrap();
        remove_read_only_tree(&dir.path().join("gone")).unwrap();
    }

    #[test]
    fn a_read_only_tree_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("pkg");
        fs::create_dir_all(root.join("bin/deep")).unwrap();
        fs::write(root.join("bin/deep/tool"), "x").unwrap();
        for d in [root.join("bin/deep"), root.join("bin"), root.clone()] {
            fs::set_permissions(&d, Permissions::from_mode(0o555)).unwrap();
        }
        remove_read_only_tree(&root).unwrap();
        assert!(!root.exists());
    }

    #[test]
    fn opening_directories_gives_the_owner_full_access_to_each() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("t");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::set_permissions(root.join("a/b"), Permissions::from_mode(0o500)).unwrap();
        fs::set_permissions(root.join("a"), Permissions::from_mode(0o000)).unwrap();
        open_directories(&root);
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&root.join("a")), 0o700);
        assert_eq!(mode(&root.join("a/b")), 0o700);
    }

    #[test]
    fn syncing_a_tree_names_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("a/b")).unwrap();
        sync_tree(dir.path()).unwrap();
        let missing = dir.path().join("c");
        assert_eq!(sync_tree(&missing).unwrap_err().path, missing);
    }

    #[test]
    fn the_clock_counts_from_the_epoch() {
        let (ms, secs) = (now_ms(), now_secs());
        // 2020-01-01 and the same instant in both units.
        assert!(secs > 1_577_836_800);
        assert!(ms / 1000 >= secs - 1 && ms / 1000 <= secs + 1);
    }
}
