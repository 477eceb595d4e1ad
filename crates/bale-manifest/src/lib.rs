//! bale.toml: schema types, parsing, validation with spanned diagnostics, kinds, and init.
//!
//! [`Manifest::parse`] and [`Manifest::from_path`] read a manifest and report
//! every problem in it at once as [`Diagnostics`], rendered rustc-style.

mod branch;
mod diagnostics;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod git;
mod init;
mod kinds;
mod kits;
mod manifest;
mod parse;
mod render;
pub mod schema;
mod units;
mod validate;
mod walk;

pub use branch::version_from_branch;
pub use diagnostics::{Diagnostic, Diagnostics, Located};
pub use error::ManifestError;
pub use init::{detect_kind, starter_manifest};
pub use kinds::{Kind, Kinds, SHIPPED_KINDS};
pub use manifest::{
    DEFAULT_BUILD_TIMEOUT, DEFAULT_HEALTH_TIMEOUT, DEFAULT_WORKDIR, MAX_MANIFEST_BYTES,
};
pub use schema::*;
pub use units::{ByteSize, HumanDuration};

/// What the machine offers that a manifest may name: stacks and kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// Stack names a manifest may use.
    pub stacks: Vec<String>,
    /// Kinds a manifest may use.
    pub kinds: Kinds,
}

/// The stacks known without asking the machine: `host`, `debian-bookworm` and `debian-trixie`.
pub const DEFAULT_STACKS: &[&str] = &["host", "debian-bookworm", "debian-trixie"];

impl Catalog {
    /// A catalog of the given stacks and kinds.
    pub fn new(stacks: Vec<String>, kinds: Kinds) -> Self {
        Self { stacks, kinds }
    }

    /// The [`DEFAULT_STACKS`] with the given kinds.
    pub fn with_default_stacks(kinds: Kinds) -> Self {
        Self::new(
            DEFAULT_STACKS.iter().map(|s| (*s).to_owned()).collect(),
            kinds,
        )
    }
}

impl Default for Catalog {
    /// The default stacks and the shipped kinds.
    fn default() -> Self {
        Self::with_default_stacks(Kinds::builtin())
    }
}

/// Choices that come from outside the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// The version from a git branch `<name>-<version>`; when set it wins over the file's.
    pub version_override: Option<String>,
}
