//! Exports of a built package into the formats other platforms take: an OCI
//! image layout ([`oci`]), a Debian package ([`deb`]) and an Alpine package
//! ([`apk`]). Each is made from the package's files and the facts in its
//! index, never by building again, and the same package always gives the
//! same bytes. See `docs/exports.md`.

mod error;
mod package;

pub mod apk;
pub mod deb;
pub mod oci;

use std::path::PathBuf;

pub use error::ExportError;
pub use package::Package;

/// One file an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Where it is.
    pub path: PathBuf,
    /// `sha256:<hex>` of its bytes (for an OCI layout: the manifest's digest).
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}
