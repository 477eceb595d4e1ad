//! The crate's error type for everything that is not a manifest diagnostic.

use std::path::PathBuf;

/// What went wrong outside of a manifest's own content.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A duration such as `30m` could not be read.
    #[error(
        "`{text}` is not a duration: {reason}; write a number and a unit, like \"90s\", \"30m\", \"1h\" or \"1h30m\""
    )]
    Duration {
        /// The text given.
        text: String,
        /// Why it was refused.
        reason: String,
    },
    /// A size such as `4G` could not be read.
    #[error("`{text}` is not a size: {reason}; write a number of bytes with an optional unit, like \"1024\", \"100K\", \"512M\" or \"4G\"")]
    Size {
        /// The text given.
        text: String,
        /// Why it was refused.
        reason: String,
    },
    /// A git branch or tag does not carry a version.
    #[error("`{branch}` does not name a version of `{name}`: {reason}; use a branch `{name}-<version>` or a tag `v<version>`, e.g. `{name}-1.2.0`")]
    BranchVersion {
        /// The package name.
        name: String,
        /// The branch or tag given.
        branch: String,
        /// Why it was refused.
        reason: String,
    },
    /// The kinds file could not be read.
    #[error("cannot read the kinds file {path}; check that it exists and is readable")]
    KindsRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The kinds file is not valid.
    #[error("the kinds file {path} is not valid: {reason}")]
    KindsInvalid {
        /// The file (or `<shipped kinds.toml>`).
        path: PathBuf,
        /// What is wrong, with where.
        reason: String,
    },
    /// A git ref that git could misread, or that `git check-ref-format` refuses.
    #[error("`{reference}` is not a git branch, tag or commit: {reason}; name one like `main`, `v1.2.0`, `refs/heads/hello-1.2.0` or a 40-hex commit id")]
    GitRef {
        /// The ref given.
        reference: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A git URL that is not one bale clones from.
    #[error("`{url}` is not a git URL bale clones from: {reason}")]
    GitUrl {
        /// The URL given.
        url: String,
        /// The rule it breaks.
        reason: String,
    },
    /// A local path or `file://` URL where only remote sources are allowed.
    #[error("`{url}` is a path on this machine, and this service builds only remote sources: give a https://, http://, ssh://, git:// or user@host:path URL, or start the server with --allow-local-sources")]
    LocalSource {
        /// The URL or path given.
        url: String,
    },
}
