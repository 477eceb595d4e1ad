//! The one error type of this crate.

use std::path::PathBuf;

/// What went wrong writing or checking an SBOM or a provenance.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// A file could not be read or written.
    #[error("cannot access {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The package could not be read.
    #[error("cannot read the package {path}: {source}")]
    Package {
        /// The package file.
        path: PathBuf,
        /// What the reader found.
        source: bale_archive::ArchiveError,
    },
    /// The package's embedded manifest is not TOML.
    #[error("the package's manifest is not valid TOML: {0}")]
    Manifest(String),
    /// JSON could not be written or read.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The `.intoto.json` is not a DSSE envelope of an in-toto statement.
    #[error("the provenance is not a DSSE envelope of an in-toto statement: {0}")]
    Malformed(String),
    /// The envelope carries no signature.
    #[error("the provenance is not signed: the build had no key; sign the package with `bale sign FILE.bale --key KEY` (which signs its provenance too) or build with --key")]
    Unsigned,
    /// No signature was made by a trusted key.
    #[error("the provenance is signed by key {0}, which this machine does not trust; if you trust its publisher, run `bale key trust FILE.pub` with their public key")]
    UntrustedKey(String),
    /// A trusted key's signature does not match the payload.
    #[error("the provenance's signature by key {0} does not match its payload: the statement was changed after it was signed")]
    BadSignature(String),
    /// The statement is about another file.
    #[error("the provenance is about sha256:{found}, not this package (sha256:{expected}): it belongs to another build")]
    WrongSubject {
        /// The package's digest.
        expected: String,
        /// What the statement names.
        found: String,
    },
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] bale_sign::SignError),
}

impl SbomError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> SbomError {
        SbomError::Io {
            path: path.into(),
            source,
        }
    }
}
