//! One time for a whole tree: what a git checkout's entries get, so that
//! the order git wrote them in never makes a generated file look out of
//! date (docs/manifest.md, "The source the actions see").

use std::fs;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Timespec, Timestamps, CWD};

use crate::FsError;

/// Gives `root` and every entry under it the access and modification time
/// `seconds` (since the epoch): a symlink its own time, not its target's,
/// and a directory after its contents. The entries at the top of `root`
/// named in `leave_out` (such as `.git`) are left as they are.
pub fn set_tree_times(root: &Path, seconds: i64, leave_out: &[&str]) -> Result<(), FsError> {
    let stamps = Timestamps {
        last_access: Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        },
        last_modification: Timespec {
            tv_sec: seconds,
            tv_nsec: 0,
        },
    };
    let mut dirs = vec![root.to_path_buf()];
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(FsError::at(&dir))? {
            let entry = entry.map_err(FsError::at(&dir))?;
            let path = entry.path();
            if dir == root && leave_out.iter().any(|name| entry.file_name() == *name) {
                continue;
            }
            if entry.file_type().map_err(FsError::at(&path))?.is_dir() {
                pending.push(path.clone());
                dirs.push(path);
            } else {
                stamp(&path, &stamps)?;
            }
        }
    }
    // Parents were listed before their children: the reverse stamps each
    // directory after everything in it.
    for dir in dirs.iter().rev() {
        stamp(dir, &stamps)?;
    }
    Ok(())
}

fn stamp(path: &PathBuf, stamps: &Timestamps) -> Result<(), FsError> {
    rustix::fs::utimensat(CWD, path, stamps, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| FsError::at(path)(e.into()))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{symlink, MetadataExt};

    use super::*;

    fn mtime(path: &Path) -> i64 {
        path.symlink_metadata().unwrap().mtime()
    }

    #[test]
    fn every_entry_gets_the_time_but_the_ones_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(root.join(".git/objects")).unwrap();
        fs::write(root.join("a/b/file"), "x").unwrap();
        symlink("/nonexistent", root.join("a/dangling")).unwrap();
        set_tree_times(root, 1_600_000_000, &[".git"]).unwrap();
        for rel in ["", "a", "a/b", "a/b/file", "a/dangling"] {
            assert_eq!(mtime(&root.join(rel)), 1_600_000_000, "`{rel}`");
        }
        assert_ne!(mtime(&root.join(".git/objects")), 1_600_000_000);
    }
}
