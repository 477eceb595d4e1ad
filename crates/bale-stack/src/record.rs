//! `stack.json`: what a created stack is, as recorded when it was made.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::StackError;

/// The record of a created stack, kept beside its image as `stack.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackRecord {
    /// The stack's name.
    pub name: String,
    /// The Debian architecture; absent in records made before stacks had
    /// one, which were all [`crate::UNMARKED_ARCH`] (read with [`StackRecord::arch`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The Debian suite.
    pub suite: String,
    /// The debootstrap variant.
    pub variant: String,
    /// Archive components.
    pub components: Vec<String>,
    /// Extra packages asked for.
    pub include: Vec<String>,
    /// The mirror the image was made from, and which its apt uses.
    pub mirror: String,
    /// The image's byte digest (see [`crate::image_manifest`]): what
    /// `sanitize` checks the image against.
    pub digest: String,
    /// The image's identity by content (see [`crate::identity_of`]): what
    /// packages and layers name. Absent in records made before it existed;
    /// then computed from the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// Installed packages, `name=version`, sorted.
    pub packages: Vec<String>,
    /// Seconds since the Unix epoch when the image was made.
    pub created: u64,
    /// Total bytes of the image's regular files.
    pub size_bytes: u64,
}

impl StackRecord {
    /// The image's architecture: the recorded one, else [`crate::UNMARKED_ARCH`].
    pub fn arch(&self) -> &str {
        self.arch.as_deref().unwrap_or(crate::UNMARKED_ARCH)
    }

    /// Reads a `stack.json`.
    pub fn read(path: &Path) -> Result<StackRecord, StackError> {
        let text = std::fs::read(path).map_err(|source| StackError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|e| StackError::Record {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Writes a `stack.json` durably: temporary name, fsync, rename.
    pub fn write(&self, path: &Path) -> Result<(), StackError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| StackError::Record {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(bale_fs::write_atomic(path, &json)?)
    }
}
