//! The one error type of this crate; every message says what to do next.

use std::path::PathBuf;

/// Everything that can go wrong serving, publishing to or fetching from a repository.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// A file or directory on this machine could not be read or written.
    #[error("cannot read or write {path}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The storage URL names no backend bale supports.
    #[error("unsupported storage `{0}`: use a directory, `file:///path`, or `s3://bucket?endpoint=http://host:port`")]
    StorageUrl(String),
    /// The object store failed.
    #[error("storage failed on {key}")]
    Storage {
        /// The object key.
        key: String,
        /// What the store said.
        #[source]
        source: object_store::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] bale_db::DbError),
    /// The trusted keys could not be loaded, or a signature could not be checked.
    #[error(transparent)]
    Sign(#[from] bale_sign::SignError),
    /// The server could not listen on its address.
    #[error("cannot listen on {addr} (is another server using it? pick another with --listen)")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The repository URL does not parse.
    #[error("`{0}` is not a repository URL: use e.g. `http://127.0.0.1:7070` (or set BALE_REPO)")]
    RepoUrl(String),
    /// The repository could not be reached at all.
    #[error("cannot reach the repository at {url}: {reason} (is `bale serve` running there, and is the URL right?)")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// What the connection said.
        reason: String,
    },
    /// The repository has no such package.
    #[error("{coordinate} is not in the repository at {repo} (check the coordinate, or `bale publish` it first)")]
    NotFound {
        /// The coordinate asked for.
        coordinate: String,
        /// The repository URL.
        repo: String,
    },
    /// The coordinate is published only for other architectures than the machine's.
    #[error("{coordinate} is built for {archs}; this machine is {machine}: build it for {machine} (`bale submit --arch {machine}`) and publish that")]
    ForeignArch {
        /// The coordinate asked for.
        coordinate: String,
        /// The architectures it is published for.
        archs: String,
        /// The machine's.
        machine: String,
    },
    /// The repository answered with an error.
    #[error("the repository refused the request ({status} {code}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error code from the body, or the status text.
        code: String,
        /// The server's message.
        message: String,
    },
    /// A download broke off or could not be written.
    #[error("downloading {url} failed: {reason} (try again)")]
    Download {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A package URL that `bale install` cannot download.
    #[error("`{0}` is not a package URL: give an http:// or https:// URL of a .bale file")]
    PackageUrl(String),
    /// A download grew past its limit.
    #[error("{url} is larger than {max} bytes; refusing it (is the URL right?)")]
    TooLarge {
        /// The URL, without credentials.
        url: String,
        /// The limit.
        max: u64,
    },
    /// A package URL without a signature beside it.
    #[error("no signature at {url}; publish the .minisig beside the package, or pass --allow-unsigned to accept it unsigned")]
    NoSignature {
        /// The signature's URL, without credentials.
        url: String,
    },
    /// An upload broke off before the repository answered.
    #[error("uploading to {url} failed: {reason} (the repository may have refused it early, e.g. for its size limit; try again or ask its operator)")]
    Upload {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The archive is not a valid package.
    #[error("{file} is not a valid package: {reason}")]
    Archive {
        /// The file checked.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The downloaded package is another coordinate than the one asked for.
    #[error("the repository served {found} when {expected} was asked for; the repository is corrupt or not to be trusted")]
    CoordinateMismatch {
        /// Asked for.
        expected: String,
        /// Found in the archive's index.
        found: String,
    },
    /// The package has no signature and unsigned packages are not allowed.
    #[error("{coordinate} is not signed; refusing it (sign it with `bale sign`, or pass --allow-unsigned to accept it)")]
    Unsigned {
        /// The package.
        coordinate: String,
    },
    /// The signature does not verify against a trusted key.
    #[error("the signature of {coordinate} does not verify: {reason} (trust the publisher's key with `bale key trust FILE.pub`)")]
    BadSignature {
        /// The package.
        coordinate: String,
        /// Why.
        reason: String,
    },
    /// The upload was refused because the repository already has other bytes.
    #[error("{coordinate} is already published with other content ({message}); a coordinate is immutable, so publish a new version")]
    Conflict {
        /// The package.
        coordinate: String,
        /// The server's message with both digests.
        message: String,
    },
    /// A background task panicked or was cancelled.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RepoError {
    /// Whether bale itself failed (a bug, its database or keys), not the
    /// repository's answer or the user's request.
    pub fn is_internal(&self) -> bool {
        match self {
            RepoError::Internal(_) => true,
            RepoError::Database(e) => e.is_internal(),
            RepoError::Sign(e) => e.is_internal(),
            _ => false,
        }
    }

    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RepoError::Io {
            path: path.into(),
            source,
        }
    }

    /// A storage error on `key`.
    pub(crate) fn storage(key: impl Into<String>, source: object_store::Error) -> Self {
        RepoError::Storage {
            key: key.into(),
            source,
        }
    }
}
