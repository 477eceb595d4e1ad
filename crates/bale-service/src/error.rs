//! Why a service operation failed.

use std::path::PathBuf;

/// Everything that can go wrong in the build service.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] bale_db::DbError),
    /// The repository (storage, publishing) failed.
    #[error(transparent)]
    Repo(#[from] bale_repo::RepoError),
    /// A file or directory could not be used.
    #[error("cannot read or write {}", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not what bale reads.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The build's source could not be prepared.
    #[error("cannot prepare the source: {0}")]
    Source(String),
    /// The `bale build` child could not be run.
    #[error("cannot run the build process {program} (is the bale binary still installed?)")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The built package could not be signed.
    #[error("cannot sign the package")]
    Sign(#[from] bale_sign::SignError),
    /// The built package could not be published.
    #[error("cannot publish the package: {0}")]
    Publish(String),
    /// The service could not listen on its address.
    #[error("cannot listen on {addr} (is another server running there?)")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A request to a build service failed.
    #[error("{0}")]
    Client(String),
    /// Something that should not happen.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// Whether bale itself failed (its files, its database, a bug), not the
    /// service's answer, the source or the user's request.
    pub fn is_internal(&self) -> bool {
        match self {
            ServiceError::Io { .. } | ServiceError::Internal(_) => true,
            ServiceError::Db(e) => e.is_internal(),
            ServiceError::Repo(e) => e.is_internal(),
            ServiceError::Sign(e) => e.is_internal(),
            _ => false,
        }
    }

    /// An I/O error at `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ServiceError::Io {
            path: path.into(),
            source,
        }
    }
}
