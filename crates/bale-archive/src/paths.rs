//! Rules for entry paths and symlink targets, shared by the writer and the reader.

use crate::ArchiveError;

/// The reserved directory holding the index and the manifest.
pub(crate) const BALE_DIR: &str = ".bale";
/// The index's path in the archive.
pub(crate) const INDEX_PATH: &str = ".bale/index.json";
/// The manifest's path in the archive.
pub(crate) const MANIFEST_PATH: &str = ".bale/manifest.toml";

/// Checks that `path` is a normal relative path: not empty, not absolute, no
/// `..`, `.` or empty components, no NUL.
pub(crate) fn check_relative(path: &str) -> Result<(), ArchiveError> {
    if path.starts_with('/') {
        return Err(ArchiveError::AbsolutePath {
            path: path.to_string(),
        });
    }
    if path.split('/').any(|c| c == "..") {
        return Err(ArchiveError::ParentComponent {
            path: path.to_string(),
        });
    }
    if path.is_empty() || path.contains('\0') || path.split('/').any(|c| c.is_empty() || c == ".") {
        return Err(ArchiveError::InvalidPath {
            path: path.to_string(),
        });
    }
    Ok(())
}

/// The directory holding `path`, `None` at the top of the package root.
pub(crate) fn parent(path: &str) -> Option<&str> {
    path.rfind('/').map(|at| &path[..at])
}

/// Whether a relative symlink at `link` with `target` resolves, lexically,
/// outside the package root.
///
/// Absolute targets are allowed: they name a file of the stack the package
/// runs on (a venv's `bin/python -> /usr/bin/python3`), not a place in the
/// package, and nothing is ever written through a symlink.
pub(crate) fn symlink_escapes(link: &str, target: &str) -> bool {
    if target.starts_with('/') {
        return false;
    }
    let mut depth: usize = parent(link).map_or(0, |dir| dir.split('/').count());
    for component in target.split('/') {
        match component {
            "" | "." => {}
            ".." => match depth.checked_sub(1) {
                Some(up) => depth = up,
                None => return true,
            },
            _ => depth += 1,
        }
    }
    false
}

/// Checks a symlink's target: not empty, no NUL, not escaping the root.
pub(crate) fn check_symlink(link: &str, target: &str) -> Result<(), ArchiveError> {
    if target.is_empty() || target.contains('\0') || symlink_escapes(link, target) {
        return Err(ArchiveError::SymlinkOutside {
            path: link.to_string(),
            target: target.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_targets_that_climb_above_the_root_escape() {
        assert!(symlink_escapes("a", "../x"));
        assert!(symlink_escapes("lib/a", "../../x"));
        assert!(symlink_escapes("lib/a", "b/../../../x"));
        assert!(!symlink_escapes("lib/a", "../bin/x"));
        assert!(!symlink_escapes("lib/a", "./b"));
        assert!(!symlink_escapes("lib/a", "/usr/bin/python3"));
    }

    #[test]
    fn paths_with_dot_dot_empty_or_absolute_components_are_refused() {
        assert!(matches!(
            check_relative("a/../b"),
            Err(ArchiveError::ParentComponent { .. })
        ));
        assert!(matches!(
            check_relative("/a"),
            Err(ArchiveError::AbsolutePath { .. })
        ));
        assert!(matches!(
            check_relative("a//b"),
            Err(ArchiveError::InvalidPath { .. })
        ));
        assert!(matches!(
            check_relative("./a"),
            Err(ArchiveError::InvalidPath { .. })
        ));
        assert!(matches!(
            check_relative(""),
            Err(ArchiveError::InvalidPath { .. })
        ));
        assert!(check_relative("a/b.c/d").is_ok());
    }
}
