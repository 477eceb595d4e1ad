//! `bale export apk`: an Alpine package (apk v2), `<name>-<version>-r0.apk`, signed RSA-SHA256.

use std::path::PathBuf;

use crate::{ExportError, Package, Written};

/// How to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory to write the `.apk` into.
    pub out: PathBuf,
    /// The RSA private key (PEM) that signs it.
    pub key: PathBuf,
}

/// Writes the export of `package` and returns what was written.
pub fn export(package: &Package, options: &Options) -> Result<Vec<Written>, ExportError> {
    let _ = (package, options);
    Err(ExportError::Refused(
        "bale export apk is not available in this version of bale".into(),
    ))
}
