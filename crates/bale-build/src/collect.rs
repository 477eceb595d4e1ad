//! The collect step: `[build] destinations` copied from the built source
//! tree into the package's `app/` directory.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use crate::BuildError;

/// Copies what each glob in `patterns` matches under `src` into `app`,
/// keeping paths relative to `src`. Returns how many files were copied.
///
/// A glob that matches nothing fails: a destination that is missing after
/// the build is a broken build, not an empty directory to ship.
pub fn collect_destinations(
    src: &Path,
    patterns: &[String],
    app: &Path,
) -> Result<usize, BuildError> {
    let mut copied = 0;
    for pattern in patterns {
        let bad = |problem: String| BuildError::Destination {
            pattern: pattern.clone(),
            problem,
        };
        if pattern.starts_with('/') || pattern.split('/').any(|c| c == "..") {
            return Err(bad(
                "must be relative to the source tree, without `..`".into()
            ));
        }
        let full = format!(
            "{}/{}",
            glob::Pattern::escape(&src.to_string_lossy()),
            pattern
        );
        let matches = glob::glob(&full).map_err(|e| bad(format!("is not a valid glob: {e}")))?;
        let mut any = false;
        for found in matches {
            let found = found.map_err(|e| bad(format!("cannot be read: {e}")))?;
            let Ok(rel) = found.strip_prefix(src) else {
                continue;
            };
            any = true;
            copied += copy_tree(&found, &app.join(rel))?;
        }
        if !any {
            return Err(bad(
                "matches nothing in the source tree after the build".into()
            ));
        }
    }
    Ok(copied)
}

/// Copies a file, symlink or directory tree; returns the number of files and links.
fn copy_tree(from: &Path, to: &Path) -> Result<usize, BuildError> {
    let meta = from
        .symlink_metadata()
        .map_err(|e| BuildError::io(from, e))?;
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
    }
    if meta.file_type().is_symlink() {
        let target = fs::read_link(from).map_err(|e| BuildError::io(from, e))?;
        if to.symlink_metadata().is_err() {
            symlink(&target, to).map_err(|e| BuildError::io(to, e))?;
        }
        return Ok(1);
    }
    if meta.is_dir() {
        fs::create_dir_all(to).map_err(|e| BuildError::io(to, e))?;
        let mut n = 0;
        let mut entries: Vec<_> = fs::read_dir(from)
            .map_err(|e| BuildError::io(from, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| BuildError::io(from, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            n += copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(n);
    }
    fs::copy(from, to).map_err(|e| BuildError::io(from, e))?;
    Ok(1)
}
