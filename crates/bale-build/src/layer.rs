//! Steps 2–3, runtime and dependencies: the kind's runtime packages and the
//! manifest's Debian packages installed with apt into a layer kept over the
//! stack, keyed by what went into it.

use std::path::PathBuf;
use std::time::Instant;

use bale_sandbox::Sandbox;

use crate::build::BuildRequest;
use crate::step::Log;
use crate::BuildError;

/// A dependency layer ready to be a lower layer above the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepsLayer {
    /// The layer's directory.
    pub dir: PathBuf,
    /// Its key: SHA-256 of the stack digest, the kind and the sorted package lists.
    pub key: String,
}

/// The dependency layer for `request`, built when missing; `None` when the
/// stack keeps no layers (the `host` stack) or there is nothing to install.
pub fn prepare(
    _sandbox: &Sandbox,
    request: &BuildRequest<'_>,
    _deadline: Instant,
    _log: &mut Log<'_>,
) -> Result<Option<DepsLayer>, BuildError> {
    if request.layers_dir.is_none() {
        return Ok(None);
    }
    Ok(None)
}
