//! The check before a build uses a stack: an image that no longer matches
//! its record (byte digest or package list) is sanitized first.
//!
//! Hashing every file of an image (~175 MB for bookworm's minbase) before
//! each build would cost seconds, so a full check leaves a fingerprint of
//! the image's metadata in `checked` beside the record: every entry's
//! path, inode, mode, owner, size, mtime and ctime. A later check whose
//! fingerprint is the same, for the same recorded digest, skips the
//! hashing: a write, a `chmod`, a rename or a replaced file changes a
//! ctime, and ctime cannot be set back without changing the clock. The
//! package list is read from the dpkg status file every time.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::config::StackDef;
use crate::digest::Difference;
use crate::identity::installed_packages;
use crate::lease::StackLease;
use crate::stacks::{StackImage, Stacks};
use crate::StackError;

/// How many differences the build log's line names before "and N more".
const NAMED: usize = 3;

/// What the check before a build found, and the build's lease on the image.
#[derive(Debug)]
pub struct CheckedImage {
    /// The image, sanitized if it had changed.
    pub image: StackImage,
    /// How the image differed from its record; empty when it matched.
    pub differences: Vec<Difference>,
    /// The shared lease ([`Stacks::lease`]) to hold while the build runs;
    /// none for the host stack, which bale never changes.
    pub lease: Option<StackLease>,
}

impl Stacks {
    /// The image of stack `name` for a build, checked against its record
    /// first and sanitized when its byte digest or package list no longer
    /// match, after saying so through `progress` ("stack NAME changed since
    /// it was recorded (…): sanitizing"). Sanitizing waits for the builds
    /// using the image to end; the image comes with a shared lease that
    /// keeps it from changing until the caller drops it.
    pub fn checked_image(
        &self,
        name: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<CheckedImage, StackError> {
        if let StackDef::Host {} = self.definition(name)? {
            return Ok(CheckedImage {
                image: self.image(name)?,
                differences: Vec::new(),
                lease: None,
            });
        }
        let record = self.record(name)?;
        let dir = self.stack_dir(name);
        let root = dir.join("image");
        if let Ok(fingerprint) = fingerprint(&root) {
            let unchanged = fs::read_to_string(dir.join(MARK))
                .is_ok_and(|text| text == seal(&fingerprint, &record.digest))
                && installed_packages(&root).is_ok_and(|p| p == record.packages);
            if unchanged {
                let lease = self.lease(name)?;
                return Ok(CheckedImage {
                    image: self.image(name)?,
                    differences: Vec::new(),
                    lease: Some(lease),
                });
            }
        }
        // Hashed under a shared lease: builds using the image go on.
        let lease = self.lease(name)?;
        let differences = self.differences(name, &record)?;
        if differences.is_empty() {
            mark_checked(&dir, &record.digest);
            return Ok(CheckedImage {
                image: self.image(name)?,
                differences,
                lease: Some(lease),
            });
        }
        drop(lease);
        // Looked at again once no build uses the image: another build may
        // have sanitized it meanwhile.
        let exclusive = self.lease_exclusive(name, progress)?;
        let differences = self.differences(name, &record)?;
        if !differences.is_empty() {
            progress(&format!(
                "stack {name} changed since it was recorded ({}): sanitizing",
                summary(&differences)
            ));
            self.restore(name, &record, differences.clone(), progress)?;
        }
        let digest = self.record(name)?.digest;
        mark_checked(&dir, &digest);
        drop(exclusive);
        let lease = self.lease(name)?;
        Ok(CheckedImage {
            image: self.image(name)?,
            differences,
            lease: Some(lease),
        })
    }
}

/// The file beside a stack's record that holds its last checked fingerprint.
const MARK: &str = "checked";

fn seal(fingerprint: &str, digest: &str) -> String {
    format!("{fingerprint} {digest}\n")
}

/// Records that the image in `stack_dir` was found (or made) to have the
/// byte digest `digest`. The mark is only a shortcut: failing to write it
/// costs a full check next time, nothing more.
pub(crate) fn mark_checked(stack_dir: &Path, digest: &str) {
    if let Ok(fingerprint) = fingerprint(&stack_dir.join("image")) {
        let _ = bale_fs::write_atomic(&stack_dir.join(MARK), seal(&fingerprint, digest).as_bytes());
    }
}

/// The first few differences, and how many more.
fn summary(differences: &[Difference]) -> String {
    let mut text = differences
        .iter()
        .take(NAMED)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if differences.len() > NAMED {
        let _ = write!(text, " and {} more", differences.len() - NAMED);
    }
    text
}

/// sha256 over one line per entry under `root`, sorted by path: path,
/// inode, mode, owner, size, mtime and ctime (seconds and nanoseconds).
pub(crate) fn fingerprint(root: &Path) -> Result<String, StackError> {
    let mut hasher = Sha256::new();
    let meta = fs::symlink_metadata(root).map_err(io(root))?;
    hasher.update(line(b"", &meta));
    walk(root, &mut Vec::new(), &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

fn line(rel: &[u8], m: &fs::Metadata) -> Vec<u8> {
    let mut out = rel.to_vec();
    out.extend_from_slice(
        format!(
            "\0{} {:o} {} {} {} {}.{} {}.{}\n",
            m.ino(),
            m.mode(),
            m.uid(),
            m.gid(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec()
        )
        .as_bytes(),
    );
    out
}

fn walk(dir: &Path, rel: &mut Vec<u8>, hasher: &mut Sha256) -> Result<(), StackError> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io(dir))?
        .collect::<Result<_, _>>()
        .map_err(io(dir))?;
    entries.sort_by(|a, b| a.file_name().as_bytes().cmp(b.file_name().as_bytes()));
    for e in entries {
        let path = e.path();
        let meta = fs::symlink_metadata(&path).map_err(io(&path))?;
        let len = rel.len();
        rel.push(b'/');
        rel.extend_from_slice(e.file_name().as_bytes());
        hasher.update(line(rel, &meta));
        if meta.is_dir() {
            walk(&path, rel, hasher)?;
        }
        rel.truncate(len);
    }
    Ok(())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StackError + '_ {
    move |source| StackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_changes_with_content_and_metadata_not_with_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("etc")).expect("mkdir");
        fs::write(dir.path().join("etc/hostname"), "bale\n").expect("write");
        let first = fingerprint(dir.path()).expect("fingerprint");
        let _ = fs::read(dir.path().join("etc/hostname")).expect("read");
        assert_eq!(first, fingerprint(dir.path()).expect("fingerprint"));
        // Same size, same content length: still seen, through the ctime.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(dir.path().join("etc/hostname"), "evil\n").expect("write");
        assert_ne!(first, fingerprint(dir.path()).expect("fingerprint"));
    }

    #[test]
    fn the_summary_names_three_differences_and_counts_the_rest() {
        let d: Vec<Difference> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|p| Difference::Added(p.to_string()))
            .collect();
        assert_eq!(summary(&d), "added /a, added /b, added /c and 2 more");
        assert_eq!(summary(&d[..1]), "added /a");
    }
}
