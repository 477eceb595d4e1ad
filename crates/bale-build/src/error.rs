//! Why a build or a pack failed.

use std::path::{Path, PathBuf};

/// Why a build or a pack failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The manifest's identity is not a valid coordinate.
    #[error(transparent)]
    Coordinate(bale_coordinate::CoordinateError),
    /// Scanning the root or writing the archive failed.
    #[error(transparent)]
    Archive(#[from] bale_archive::ArchiveError),
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl BuildError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        BuildError::Io { path: path.to_path_buf(), source }
    }
}
