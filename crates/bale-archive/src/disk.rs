//! Writing checked entries under the destination directory.
//!
//! Every entry is created new (never opened if it exists) and files are
//! opened with `O_NOFOLLOW`; the checker has already refused any path that
//! climbs out or passes through a symlink, so these are a second fence.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::check::Sink;
use crate::ArchiveError;

/// Writes entries under `dest`.
pub(crate) struct DiskSink {
    dest: PathBuf,
    read_only: bool,
    sync: bool,
    /// Bits the process umask removes; when it touches a mode we set, the
    /// mode is set again explicitly.
    umask: u32,
    current: Option<(File, PathBuf)>,
}

impl DiskSink {
    pub(crate) fn new(dest: &Path, read_only: bool, sync: bool) -> DiskSink {
        DiskSink {
            dest: dest.to_path_buf(),
            read_only,
            sync,
            umask: current_umask(),
            current: None,
        }
    }

    fn set_mode(&self, path: &Path, mode: u32) -> Result<(), ArchiveError> {
        if self.umask & mode != 0 {
            fs::set_permissions(path, Permissions::from_mode(mode))
                .map_err(|e| ArchiveError::io(path, e))?;
        }
        Ok(())
    }
}

impl Sink for DiskSink {
    fn dir(&mut self, path: &str) -> Result<(), ArchiveError> {
        let full = self.dest.join(path);
        DirBuilder::new()
            .mode(0o755)
            .create(&full)
            .map_err(|e| ArchiveError::io(&full, e))?;
        self.set_mode(&full, 0o755)
    }

    fn symlink(&mut self, path: &str, target: &str) -> Result<(), ArchiveError> {
        let full = self.dest.join(path);
        std::os::unix::fs::symlink(target, &full).map_err(|e| ArchiveError::io(&full, e))
    }

    fn begin_file(&mut self, path: &str, executable: bool) -> Result<(), ArchiveError> {
        let full = self.dest.join(path);
        let mode = match (executable, self.read_only) {
            (true, false) => 0o755,
            (false, false) => 0o644,
            (true, true) => 0o555,
            (false, true) => 0o444,
        };
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&full)
            .map_err(|e| ArchiveError::io(&full, e))?;
        if self.umask & mode != 0 {
            file.set_permissions(Permissions::from_mode(mode))
                .map_err(|e| ArchiveError::io(&full, e))?;
        }
        self.current = Some((file, full));
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        if let Some((file, path)) = &mut self.current {
            file.write_all(bytes)
                .map_err(|e| ArchiveError::io(path.as_path(), e))?;
        }
        Ok(())
    }

    fn end_file(&mut self) -> Result<(), ArchiveError> {
        self.current = None;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ArchiveError> {
        if self.sync {
            sync_filesystem(&self.dest)?;
        }
        Ok(())
    }
}

/// Flushes the filesystem holding `dir` with one `syncfs`: far cheaper than
/// an fsync per file for trees of many small files.
fn sync_filesystem(dir: &Path) -> Result<(), ArchiveError> {
    let handle = File::open(dir).map_err(|e| ArchiveError::io(dir, e))?;
    // SAFETY: syncfs only reads the descriptor, which `handle` keeps open.
    let rc = unsafe { libc::syncfs(handle.as_raw_fd()) };
    if rc != 0 {
        return Err(ArchiveError::io(dir, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The process umask, read without changing it (`umask(2)` can only be
/// read by setting it, which races with other threads creating files).
fn current_umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Umask:"))
                .and_then(|value| u32::from_str_radix(value.trim(), 8).ok())
        })
        // Unknown: assume every bit is masked, so modes are always set explicitly.
        .unwrap_or(0o777)
}
