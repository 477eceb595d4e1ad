//! Scratch directories under `$BALE_HOME/tmp`, and the permission and fsync
//! steps that make a renamed-into-place tree complete, durable and read-only.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::StoreError;

/// The mode of an installed directory: readable and searchable, never writable.
pub(crate) const READ_ONLY_DIR: u32 = 0o555;

/// A fresh directory under the store's scratch space, removed on drop unless kept.
///
/// It lives on the same file system as `pkgs/`, so its contents can be
/// renamed into place atomically.
#[derive(Debug)]
pub(crate) struct Staging {
    path: PathBuf,
}

impl Staging {
    /// Makes a new, empty, uniquely named directory `<tmp>/.<purpose>-…`.
    pub(crate) fn new(tmp: &Path, purpose: &str) -> Result<Staging, StoreError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        fs::create_dir_all(tmp).map_err(|e| StoreError::io(tmp, e))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = tmp.join(format!(".{purpose}-{}-{n}-{nanos:08x}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(Staging { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // Best effort: a leftover under tmp/ is harmless and never visible in pkgs/.
        let _ = bale_fs::remove_read_only_tree(&self.path);
    }
}

/// Sets the mode of every directory in the tree at `root` (symlinks are not followed).
///
/// Parents are made searchable before their children are visited, and when
/// the mode drops write access, children are changed before their parent.
pub(crate) fn set_dir_modes(root: &Path, mode: u32) -> io::Result<()> {
    let meta = fs::symlink_metadata(root)?;
    if !meta.is_dir() {
        return Ok(());
    }
    // Make sure we can list and enter it whatever the final mode.
    fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            set_dir_modes(&entry.path(), mode)?;
        }
    }
    fs::set_permissions(root, fs::Permissions::from_mode(mode))
}
