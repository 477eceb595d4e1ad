//! Copying a source tree as it is: every file's content and permission
//! bits, and the times `make` compares. A release tarball ships generated
//! files (`configure`, `aclocal.m4`, `Makefile.in`) that must stay no older
//! than what they were generated from; a copy that gave each file the time
//! it was copied at would send `make` off to regenerate them with tools the
//! stack does not have.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{symlink, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, OFlags, Timespec, Timestamps, CWD};

use crate::BuildError;

/// The times the copy's entries get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Times {
    /// Each entry keeps its access and modification times, to the nanosecond.
    Kept,
    /// Every entry gets this time (seconds since the epoch).
    Fixed(i64),
}

/// Copies `entries` (paths relative to `from`: files, symlinks and
/// directories) into the directory `to` (made if missing), with the
/// directories that hold them; returns how many files and symlinks were copied.
///
/// Permission bits are kept but for set-user-ID and set-group-ID, which a
/// copy made by root must not hand out; directories stay writable and
/// searchable by their owner so the actions can work in them and the build
/// directory can be removed. Directories get their times last, after
/// their contents were written. An entry missing from `from` (a tracked
/// file deleted from the work tree, a submodule), one under a symlink, or
/// one that is not a file, symlink or directory (a fifo, a socket) is left
/// out.
pub(crate) fn copy_tree(
    from: &Path,
    to: &Path,
    entries: &[PathBuf],
    times: Times,
) -> Result<usize, BuildError> {
    fs::create_dir_all(to).map_err(|e| BuildError::io(to, e))?;
    let mut dirs = BTreeSet::from([PathBuf::new()]);
    let mut copied = 0;
    for rel in entries {
        if !plain_relative(rel) || !make_parents(from, to, rel, &mut dirs)? {
            continue;
        }
        let source = from.join(rel);
        let target = to.join(rel);
        let Ok(meta) = source.symlink_metadata() else {
            continue;
        };
        let kind = meta.file_type();
        if kind.is_dir() {
            make_dir(&target)?;
            dirs.insert(rel.clone());
        } else if kind.is_symlink() {
            let link = fs::read_link(&source).map_err(|e| BuildError::io(&source, e))?;
            symlink(&link, &target).map_err(|e| BuildError::io(&target, e))?;
            set_times(&target, &meta, times)?;
            copied += 1;
        } else if kind.is_file() {
            copy_file(&source, &target, meta.mode() & 0o777)?;
            set_times(&target, &meta, times)?;
            copied += 1;
        }
    }
    // Deepest first, so a directory whose mode takes away its owner's
    // rights never stops the ones below it from being stamped.
    for rel in dirs.iter().rev() {
        let source = from.join(rel);
        let target = to.join(rel);
        let meta = source
            .symlink_metadata()
            .map_err(|e| BuildError::io(&source, e))?;
        let mode = (meta.mode() & 0o1777) | 0o700;
        fs::set_permissions(&target, Permissions::from_mode(mode))
            .map_err(|e| BuildError::io(&target, e))?;
        set_times(&target, &meta, times)?;
    }
    Ok(copied)
}

/// Whether `rel` is a plain relative path: no root, no `..`, no `.`.
fn plain_relative(rel: &Path) -> bool {
    rel.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Makes the directories above `rel` in `to`, each checked to be a real
/// directory in `from`; false when one is not (a symlink), so nothing is
/// ever read or written through a link.
fn make_parents(
    from: &Path,
    to: &Path,
    rel: &Path,
    dirs: &mut BTreeSet<PathBuf>,
) -> Result<bool, BuildError> {
    let Some(parent) = rel.parent() else {
        return Ok(true);
    };
    let mut prefix = PathBuf::new();
    for part in parent.components() {
        prefix.push(part);
        if dirs.contains(&prefix) {
            continue;
        }
        match from.join(&prefix).symlink_metadata() {
            Ok(meta) if meta.is_dir() => {}
            _ => return Ok(false),
        }
        make_dir(&to.join(&prefix))?;
        dirs.insert(prefix.clone());
    }
    Ok(true)
}

fn make_dir(path: &Path) -> Result<(), BuildError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && is_real_dir(path) => Ok(()),
        Err(e) => Err(BuildError::io(path, e)),
    }
}

fn is_real_dir(path: &Path) -> bool {
    path.symlink_metadata().is_ok_and(|m| m.is_dir())
}

/// Copies a regular file's bytes into a new file with `mode`; the source
/// is opened without following a symlink swapped in since it was looked at.
fn copy_file(source: &Path, target: &Path, mode: u32) -> Result<(), BuildError> {
    let mut input = OpenOptions::new()
        .read(true)
        .custom_flags(OFlags::NOFOLLOW.bits() as i32)
        .open(source)
        .map_err(|e| BuildError::io(source, e))?;
    let mut output: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(target)
        .map_err(|e| BuildError::io(target, e))?;
    io::copy(&mut input, &mut output).map_err(|e| BuildError::io(source, e))?;
    output
        .set_permissions(Permissions::from_mode(mode))
        .map_err(|e| BuildError::io(target, e))
}

/// Sets the times of `path` itself (a symlink's own, not its target's).
fn set_times(path: &Path, meta: &fs::Metadata, times: Times) -> Result<(), BuildError> {
    let (access, modification) = match times {
        Times::Kept => (
            timespec(meta.atime(), meta.atime_nsec()),
            timespec(meta.mtime(), meta.mtime_nsec()),
        ),
        Times::Fixed(seconds) => (timespec(seconds, 0), timespec(seconds, 0)),
    };
    let stamps = Timestamps {
        last_access: access,
        last_modification: modification,
    };
    rustix::fs::utimensat(CWD, path, &stamps, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| BuildError::io(path, e.into()))
}

fn timespec(seconds: i64, nanoseconds: i64) -> Timespec {
    Timespec {
        tv_sec: seconds,
        tv_nsec: nanoseconds as _,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: i64 = 123_456_789;

    fn stamp(path: &Path, seconds: i64) {
        let stamps = Timestamps {
            last_access: timespec(seconds, NS),
            last_modification: timespec(seconds, NS),
        };
        rustix::fs::utimensat(CWD, path, &stamps, AtFlags::SYMLINK_NOFOLLOW).unwrap();
    }

    fn mtime(path: &Path) -> (i64, i64) {
        let meta = path.symlink_metadata().unwrap();
        (meta.mtime(), meta.mtime_nsec())
    }

    /// An unpacked release tarball in miniature: the generated files older
    /// than their sources would be wrong, so they are the newer ones here,
    /// and listed first, as a copy in list order would stamp them oldest.
    fn release_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("m4")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::write(root.join("configure.ac"), "AC_INIT\n").unwrap();
        fs::write(root.join("aclocal.m4"), "# generated\n").unwrap();
        fs::write(root.join("configure"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(root.join("configure"), Permissions::from_mode(0o755)).unwrap();
        fs::write(root.join("m4/macro.m4"), "dnl\n").unwrap();
        symlink("configure.ac", root.join("configure.in")).unwrap();
        stamp(&root.join("configure.ac"), 1_000_000_000);
        stamp(&root.join("m4/macro.m4"), 1_000_000_000);
        stamp(&root.join("aclocal.m4"), 1_000_000_100);
        stamp(&root.join("configure"), 1_000_000_200);
        stamp(&root.join("configure.in"), 1_000_000_050);
        stamp(&root.join("m4"), 1_000_000_300);
        stamp(&root.join("empty"), 1_000_000_400);
        stamp(root, 1_000_000_500);
        dir
    }

    fn entries(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn a_local_tree_keeps_every_entrys_time_to_the_nanosecond_and_its_mode() {
        let from = release_tree();
        let to = tempfile::tempdir().unwrap();
        let list = entries(&[
            "configure",
            "aclocal.m4",
            "configure.ac",
            "configure.in",
            "empty",
            "m4/macro.m4",
        ]);
        let copied = copy_tree(from.path(), to.path(), &list, Times::Kept).unwrap();
        assert_eq!(copied, 5, "files and symlinks are counted, directories not");
        for rel in [
            "",
            "configure",
            "aclocal.m4",
            "configure.ac",
            "configure.in",
            "empty",
            "m4",
            "m4/macro.m4",
        ] {
            assert_eq!(
                mtime(&to.path().join(rel)),
                mtime(&from.path().join(rel)),
                "the time of `{rel}`"
            );
        }
        assert_eq!(mtime(&to.path().join("configure")), (1_000_000_200, NS));
        let mode = |rel: &str| to.path().join(rel).metadata().unwrap().mode() & 0o7777;
        assert_eq!(mode("configure"), 0o755);
        assert_eq!(mode("aclocal.m4") & 0o7000, 0);
        assert_eq!(
            fs::read_link(to.path().join("configure.in")).unwrap(),
            Path::new("configure.ac")
        );
    }

    #[test]
    fn a_fixed_time_goes_to_every_entry() {
        let from = release_tree();
        let to = tempfile::tempdir().unwrap();
        let list = entries(&["configure", "configure.in", "empty", "m4/macro.m4"]);
        copy_tree(from.path(), to.path(), &list, Times::Fixed(1_700_000_000)).unwrap();
        for rel in [
            "",
            "configure",
            "configure.in",
            "empty",
            "m4",
            "m4/macro.m4",
        ] {
            assert_eq!(mtime(&to.path().join(rel)), (1_700_000_000, 0), "`{rel}`");
        }
    }

    #[test]
    fn set_id_bits_are_dropped_and_a_read_only_directory_stays_usable() {
        let from = tempfile::tempdir().unwrap();
        fs::create_dir(from.path().join("ro")).unwrap();
        fs::write(from.path().join("ro/tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(from.path().join("ro/tool"), Permissions::from_mode(0o6755)).unwrap();
        fs::set_permissions(from.path().join("ro"), Permissions::from_mode(0o555)).unwrap();
        let to = tempfile::tempdir().unwrap();
        copy_tree(
            from.path(),
            to.path(),
            &entries(&["ro", "ro/tool"]),
            Times::Kept,
        )
        .unwrap();
        let mode = |rel: &str| to.path().join(rel).metadata().unwrap().mode() & 0o7777;
        assert_eq!(mode("ro/tool"), 0o755);
        assert_eq!(mode("ro"), 0o755);
        fs::set_permissions(from.path().join("ro"), Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn nothing_is_read_through_a_symlinked_directory_nor_from_a_fifo() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "planted\n").unwrap();
        let from = tempfile::tempdir().unwrap();
        symlink(outside.path(), from.path().join("link")).unwrap();
        rustix::fs::mknodat(
            CWD,
            from.path().join("pipe"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let to = tempfile::tempdir().unwrap();
        let copied = copy_tree(
            from.path(),
            to.path(),
            &entries(&["link", "link/secret", "pipe", "../x"]),
            Times::Kept,
        )
        .unwrap();
        assert_eq!(copied, 1, "only the symlink itself");
        assert!(to
            .path()
            .join("link")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(!outside.path().join("x").exists());
        assert!(to.path().join("pipe").symlink_metadata().is_err());
    }
}
