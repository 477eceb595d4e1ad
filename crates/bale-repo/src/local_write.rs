//! Writing an object of the local store so that a process killed at any
//! moment leaves nothing behind: the bytes go to an unnamed file in the
//! destination's directory (`O_TMPFILE`), are synced, and only then get the
//! object's name (`linkat`). Readers see the whole object or none of it.
//!
//! A staging file with a name (as `object_store` writes, `<key>#1`) would stay
//! in the tree after a SIGKILL, where a static mirror serves it
//! (found by `benches/soak-repo.sh`).

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the temporary names of one process's replacing writes.
static REPLACEMENTS: AtomicU64 = AtomicU64::new(0);

/// What [`write_object`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Written {
    /// The object is in place and synced.
    Done,
    /// The file system has no unnamed files: nothing was written, write another way.
    Unsupported,
}

/// Writes everything `source` gives to `path`, creating its directory.
pub(crate) fn write_object(path: &Path, source: &mut dyn Read) -> io::Result<Written> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other(format!("{} has no directory", path.display())))?;
    std::fs::create_dir_all(dir)?;
    let mut file = match OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o644)
        .open(dir)
    {
        Ok(file) => file,
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
            ) =>
        {
            return Ok(Written::Unsupported)
        }
        Err(e) => return Err(e),
    };
    io::copy(source, &mut file)?;
    file.flush()?;
    file.sync_all()?;
    match link(&file, path) {
        Ok(()) => {}
        // An object written again (the same bytes, stored once more): link
        // beside it, then rename over it, which readers see as one change.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let temp = replacement_name(path);
            link(&file, &temp)?;
            if let Err(e) = std::fs::rename(&temp, path) {
                let _ = std::fs::remove_file(&temp);
                return Err(e);
            }
        }
        Err(e) => return Err(e),
    }
    File::open(dir)?.sync_all()?;
    Ok(Written::Done)
}

/// Gives the unnamed `file` the name `path`.
fn link(file: &File, path: &Path) -> io::Result<()> {
    let from =
        CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).map_err(io::Error::other)?;
    let to = CString::new(path.as_os_str().as_bytes()).map_err(io::Error::other)?;
    // SAFETY: two NUL-terminated paths that live across the call.
    let linked = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if linked == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A hidden name beside `path` that no other write uses.
fn replacement_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.{}-{}.replacing",
        std::process::id(),
        REPLACEMENTS.fetch_add(1, Ordering::Relaxed)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn an_object_is_written_whole_under_its_name_only() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("org/example/a.bale");
        assert_eq!(
            write_object(&path, &mut &b"first"[..]).unwrap(),
            Written::Done
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        assert_eq!(
            write_object(&path, &mut &b"second"[..]).unwrap(),
            Written::Done
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(names(path.parent().unwrap()), vec!["a.bale".to_owned()]);
    }
}
