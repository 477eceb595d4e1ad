//! An image's identity: a manifest of every entry, and its sha256.
//!
//! The manifest has one line per entry below the image root, sorted by
//! path: `<path> <type> <mode> <uid> <gid> <size> <detail>`, where detail is
//! the content's sha256 for a file, the target for a symlink, `major:minor`
//! for a device and `-` otherwise. Paths and targets escape every byte
//! outside printable ASCII, space and backslash as `\xHH`, so a line never
//! splits wrongly. Times are left out: they say nothing about content.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::StackError;

/// The manifest of an image, as text, and its digest (`sha256:<hex>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    /// One line per entry, sorted by path.
    pub text: String,
    /// `sha256:` and the hex sha256 of `text`.
    pub digest: String,
    /// Total bytes of the image's regular files.
    pub size_bytes: u64,
}

/// A way in which an image differs from its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The entry is there but not in the record.
    Added(String),
    /// The record has the entry; the image lacks it.
    Removed(String),
    /// Type, mode, owner, size or content differ.
    Changed(String),
    /// A package was added, removed or changed version (`name=version`).
    Package(String),
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Added(p) => write!(f, "added /{p}"),
            Difference::Removed(p) => write!(f, "removed /{p}"),
            Difference::Changed(p) => write!(f, "changed /{p}"),
            Difference::Package(p) => write!(f, "package {p}"),
        }
    }
}

fn escape(bytes: &[u8], out: &mut String) {
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'\\' {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StackError + '_ {
    move |source| StackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Walks the image at `root` (not following symlinks) and builds its manifest.
pub fn image_manifest(root: &Path) -> Result<ImageManifest, StackError> {
    let mut lines = Vec::new();
    let mut size_bytes = 0;
    walk(root, &mut Vec::new(), &mut lines, &mut size_bytes)?;
    lines.sort();
    let mut text = String::new();
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())));
    Ok(ImageManifest {
        text,
        digest,
        size_bytes,
    })
}

fn walk(
    dir: &Path,
    rel: &mut Vec<u8>,
    lines: &mut Vec<String>,
    size: &mut u64,
) -> Result<(), StackError> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by(|a, b| a.file_name().as_bytes().cmp(b.file_name().as_bytes()));
    for e in entries {
        let path = e.path();
        let meta = fs::symlink_metadata(&path).map_err(io(&path))?;
        let len = rel.len();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(e.file_name().as_bytes());
        let mut line = String::new();
        escape(rel, &mut line);
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            'd'
        } else if ft.is_file() {
            'f'
        } else if ft.is_symlink() {
            'l'
        } else if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else if ft.is_fifo() {
            'p'
        } else {
            's'
        };
        let entry_size = if ft.is_file() { meta.len() } else { 0 };
        let _ = write!(
            line,
            " {kind} {:o} {} {} {entry_size} ",
            meta.mode() & 0o7777,
            meta.uid(),
            meta.gid()
        );
        match kind {
            'f' => {
                *size += meta.len();
                line.push_str(&hash_file(&path)?);
            }
            'l' => escape(
                fs::read_link(&path)
                    .map_err(io(&path))?
                    .as_os_str()
                    .as_bytes(),
                &mut line,
            ),
            'c' | 'b' => {
                let dev = meta.rdev();
                let _ = write!(
                    line,
                    "{}:{}",
                    rustix::fs::major(dev),
                    rustix::fs::minor(dev)
                );
            }
            _ => line.push('-'),
        }
        lines.push(line);
        if kind == 'd' {
            walk(&path, rel, lines, size)?;
        }
        rel.truncate(len);
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<String, StackError> {
    let mut file = fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn by_path(text: &str) -> BTreeMap<&str, &str> {
    text.lines().filter_map(|l| l.split_once(' ')).collect()
}

/// The entries that differ between a recorded manifest and a fresh one.
pub fn manifest_differences(recorded: &str, current: &str) -> Vec<Difference> {
    let (old, new) = (by_path(recorded), by_path(current));
    let mut out = Vec::new();
    for (path, rest) in &old {
        match new.get(path) {
            None => out.push(Difference::Removed(path.to_string())),
            Some(now) if now != rest => out.push(Difference::Changed(path.to_string())),
            Some(_) => {}
        }
    }
    out.extend(
        new.keys()
            .filter(|p| !old.contains_key(*p))
            .map(|p| Difference::Added(p.to_string())),
    );
    out
}

/// Package lines (`name=version`) present in one list and not the other.
pub fn package_differences(recorded: &[String], current: &[String]) -> Vec<Difference> {
    let mut out: Vec<Difference> = recorded
        .iter()
        .filter(|p| !current.contains(p))
        .map(|p| Difference::Package(format!("{p} no longer installed")))
        .collect();
    out.extend(
        current
            .iter()
            .filter(|p| !recorded.contains(p))
            .map(|p| Difference::Package(format!("{p} newly installed"))),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("usr/bin")).unwrap();
        fs::write(d.path().join("usr/bin/tool"), "#!/bin/sh\n").unwrap();
        fs::write(d.path().join("a b"), "spaced").unwrap();
        symlink("usr/bin", d.path().join("bin")).unwrap();
        d
    }

    #[test]
    fn the_same_tree_gives_the_same_digest() {
        let (a, b) = (tree(), tree());
        assert_eq!(
            image_manifest(a.path()).unwrap().digest,
            image_manifest(b.path()).unwrap().digest
        );
    }

    #[test]
    fn content_mode_and_link_targets_change_the_digest() {
        let base = image_manifest(tree().path()).unwrap().digest;
        let t = tree();
        fs::write(t.path().join("usr/bin/tool"), "#!/bin/bash\n").unwrap();
        assert_ne!(image_manifest(t.path()).unwrap().digest, base);
        let t = tree();
        fs::set_permissions(
            t.path().join("usr/bin/tool"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        assert_ne!(image_manifest(t.path()).unwrap().digest, base);
        let t = tree();
        fs::remove_file(t.path().join("bin")).unwrap();
        symlink("usr/sbin", t.path().join("bin")).unwrap();
        assert_ne!(image_manifest(t.path()).unwrap().digest, base);
    }

    #[test]
    fn differences_name_the_paths() {
        let t = tree();
        let before = image_manifest(t.path()).unwrap().text;
        fs::write(t.path().join("usr/bin/tool"), "changed").unwrap();
        fs::write(t.path().join("new"), "").unwrap();
        fs::remove_file(t.path().join("a b")).unwrap();
        let after = image_manifest(t.path()).unwrap().text;
        let diff = manifest_differences(&before, &after);
        assert_eq!(
            diff,
            vec![
                Difference::Removed("a\\x20b".into()),
                Difference::Changed("usr/bin/tool".into()),
                Difference::Added("new".into())
            ]
        );
    }

    #[test]
    fn package_changes_are_reported_both_ways() {
        let old = vec!["apt=2.6.1".to_string(), "bash=5.2".to_string()];
        let new = vec!["apt=2.6.1".to_string(), "bash=5.3".to_string()];
        let d = package_differences(&old, &new);
        assert_eq!(d.len(), 2);
        assert!(d[0].to_string().contains("bash=5.2 no longer installed"));
    }
}
