//! `bale export oci`: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`).

use std::path::PathBuf;

use crate::{ExportError, Package, Written};

/// How to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory to write the layout into.
    pub out: PathBuf,
    /// The reference name recorded in the layout's `index.json` (`NAME:TAG`).
    pub tag: Option<String>,
}

/// Writes the export of `package` and returns what was written.
pub fn export(package: &Package, options: &Options) -> Result<Vec<Written>, ExportError> {
    let _ = (package, options);
    Err(ExportError::Refused(
        "bale export oci is not available in this version of bale".into(),
    ))
}
