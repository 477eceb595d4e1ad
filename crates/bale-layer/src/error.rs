//! Why a dependency layer could not be made.

use std::io;
use std::path::{Path, PathBuf};

/// Why a dependency layer could not be made; `E` is the [`crate::Install`]'s own error.
#[derive(Debug, thiserror::Error)]
pub enum LayerError<E> {
    /// A Debian package named for the layer does not exist on the stack's mirror.
    #[error("unknown Debian package `{name}` in [dependencies] or the kind's runtime packages: check its name with `apt-cache search`")]
    UnknownPackage {
        /// The package.
        name: String,
    },
    /// A detected package's version, recorded when the package was built, is
    /// not on the stack's mirror any more.
    #[error("Debian package `{name}` version {version}, which the package was built and tested against, is not on the stack's mirror: rebuild the package on the current stack")]
    UnavailableVersion {
        /// The package.
        name: String,
        /// The version the package's index names.
        version: String,
    },
    /// The layers' directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// Installing the packages failed.
    #[error(transparent)]
    Install(E),
}

impl<E> LayerError<E> {
    pub(crate) fn io(path: &Path, source: io::Error) -> Self {
        LayerError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
