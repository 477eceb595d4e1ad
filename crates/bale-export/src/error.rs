//! What can go wrong while exporting.

use std::path::PathBuf;

/// An export that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The package file could not be read or does not verify.
    #[error("{path}: {source}")]
    Package {
        /// The package file.
        path: PathBuf,
        /// Why.
        #[source]
        source: bale_archive::ArchiveError,
    },
    /// The package's resolved manifest does not parse.
    #[error("the manifest inside {path} is not valid: {reason}")]
    Manifest {
        /// The package file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A registry refused or failed a push (`bale export oci --push`).
    #[error("pushing to {registry}: {reason}")]
    Push {
        /// The registry's host (and port).
        registry: String,
        /// What went wrong; never a credential or token.
        reason: String,
    },
    /// The package cannot be exported in this format, and why.
    #[error("{0}")]
    Refused(String),
}

impl ExportError {
    /// Whether the failure is bale's own (its state, or the machine's), not the input's.
    pub fn is_internal(&self) -> bool {
        matches!(self, ExportError::Io { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ExportError {
        ExportError::Io {
            path: path.into(),
            source,
        }
    }
}
