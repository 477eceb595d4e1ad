//! The machine's `$BALE_HOME/config.toml`, as the settings that concern
//! apps read it: isolation, app users, log rotation.

use std::fs;
use std::io;
use std::path::Path;

use crate::DeployError;

/// The file's table; an empty one when there is no file.
pub(crate) fn read_table(path: &Path) -> Result<toml::Table, DeployError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(toml::Table::new()),
        Err(e) => return Err(DeployError::io(path, e)),
    };
    text.parse()
        .map_err(|e: toml::de::Error| invalid(path, e.to_string()))
}

/// A setting of the file at `path` that bale cannot take, and why.
pub(crate) fn invalid(path: &Path, message: String) -> DeployError {
    DeployError::Config {
        path: path.to_owned(),
        message,
    }
}
