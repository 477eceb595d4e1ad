//! A worker process's scratch on its machine: one directory under
//! `$BALE_HOME/tmp/service`, locked for the life of the process, holding the
//! work directory of each attempt (source, `bale build`'s output and
//! temporary files).
//!
//! A worker killed with SIGKILL never removes its attempts' directories; its
//! lock, though, goes with it. So each worker that starts on the machine
//! removes the scratch of every worker whose lock it can take: those died.
//! Workers that share a `$BALE_HOME` and are alive hold their locks.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::ServiceError;

/// The lock file in each worker's scratch directory.
const LOCK: &str = "lock";
/// Worker scratch directories start with this.
const PREFIX: &str = "worker-";

/// This process's scratch directory, removed when dropped.
#[derive(Debug)]
pub(crate) struct WorkerScratch {
    dir: PathBuf,
    /// Held open, and so locked, while the worker lives.
    _lock: File,
}

impl WorkerScratch {
    /// Removes the scratch of dead workers under `base`, then makes and locks this worker's.
    pub(crate) fn create(base: &Path) -> Result<WorkerScratch, ServiceError> {
        std::fs::create_dir_all(base).map_err(|e| ServiceError::io(base, e))?;
        remove_abandoned(base);
        let dir = tempfile::Builder::new()
            .prefix(PREFIX)
            .tempdir_in(base)
            .map_err(|e| ServiceError::io(base, e))?
            .keep();
        // Locked under another name, then renamed: whoever sees `lock` finds it locked.
        let (file, path) = tempfile::Builder::new()
            .prefix(".lock-")
            .tempfile_in(&dir)
            .map_err(|e| ServiceError::io(&dir, e))?
            .into_parts();
        flock(&file, libc::LOCK_EX).map_err(|e| ServiceError::io(&*path, e))?;
        path.persist(dir.join(LOCK))
            .map_err(|e| ServiceError::io(dir.join(LOCK), e.error))?;
        Ok(WorkerScratch { dir, _lock: file })
    }

    /// The directory, where attempts make theirs.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for WorkerScratch {
    fn drop(&mut self) {
        let _ = bale_fs::remove_tree(&self.dir);
    }
}

/// Removes every worker scratch under `base` whose lock is free; returns how many.
pub(crate) fn remove_abandoned(base: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(base) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let dir = entry.path();
        // No lock yet: a worker is making it (or died in that instant; too rare to chase).
        let Ok(lock) = File::open(dir.join(LOCK)) else {
            continue;
        };
        if flock(&lock, libc::LOCK_EX | libc::LOCK_NB).is_err() {
            continue;
        }
        match bale_fs::remove_tree(&dir) {
            Ok(()) => {
                removed += 1;
                tracing::info!(dir = %dir.display(), "removed the build directories of a worker that died");
            }
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "cannot remove a dead worker's build directories")
            }
        }
    }
    removed
}

fn flock(file: &File, operation: libc::c_int) -> std::io::Result<()> {
    loop {
        // SAFETY: flock(2) on a descriptor this function borrows.
        if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
            return Ok(());
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_worker_s_scratch_is_kept_and_a_dead_one_s_removed() {
        let base = tempfile::tempdir().unwrap();
        let live = WorkerScratch::create(base.path()).unwrap();
        std::fs::create_dir(live.dir().join("build-1-x")).unwrap();
        // What a worker killed with SIGKILL leaves: its directory, its lock file, no lock.
        let dead_dir = base.path().join(format!("{PREFIX}dead"));
        std::fs::create_dir_all(dead_dir.join("build-2-y")).unwrap();
        std::fs::write(dead_dir.join(LOCK), "").unwrap();
        // A directory being made has no lock file yet.
        let young_dir = base.path().join(format!("{PREFIX}young"));
        std::fs::create_dir(&young_dir).unwrap();

        let next = WorkerScratch::create(base.path()).unwrap();
        assert!(!dead_dir.exists(), "the dead worker's scratch was removed");
        assert!(
            live.dir().join("build-1-x").is_dir(),
            "the live worker's was kept"
        );
        assert!(young_dir.is_dir(), "one without a lock file yet was kept");
        assert!(next.dir().is_dir());
        let next_dir = next.dir().to_path_buf();
        drop(next);
        assert!(!next_dir.exists(), "a worker that stops removes its own");
    }
}
