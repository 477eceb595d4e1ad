//! `bale export deb`: a Debian package, `<name>_<version>_<arch>.deb`.

use std::path::PathBuf;

use crate::{ExportError, Package, Written};

/// How to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory to write the `.deb` into.
    pub out: PathBuf,
}

/// Writes the export of `package` and returns what was written.
pub fn export(package: &Package, options: &Options) -> Result<Vec<Written>, ExportError> {
    let _ = (package, options);
    Err(ExportError::Refused(
        "bale export deb is not available in this version of bale".into(),
    ))
}
