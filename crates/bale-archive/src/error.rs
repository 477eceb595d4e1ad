//! The one error type of this crate: every message names the entry and says what is wrong.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong packing, reading or unpacking a `.bale`.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// An I/O error on a file of the package tree or the destination.
    #[error("cannot read or write {}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A file's facts (class, ELF) could not be read.
    #[error("{path}: cannot read its facts")]
    Inspect {
        /// The file.
        path: String,
        /// What inspection reported.
        #[source]
        source: bale_inspect::InspectError,
    },
    /// Writing the archive to its output failed.
    #[error("writing the archive failed")]
    Output(#[source] io::Error),
    /// The package root holds a device node, fifo or socket.
    #[error("{path}: is a {kind}; a package holds only files, directories and symlinks — remove it from the package root")]
    UnsupportedFileType {
        /// The offending path.
        path: PathBuf,
        /// `device node`, `fifo`, `socket`.
        kind: &'static str,
    },
    /// The package root has a `.bale/` directory of its own.
    #[error(
        "{path}: `.bale/` is reserved for the package's index and manifest — remove or rename it"
    )]
    ReservedPath {
        /// The offending path.
        path: PathBuf,
    },
    /// A file name is not valid UTF-8, so the index cannot record it.
    #[error("{path}: file name is not valid UTF-8 — rename it")]
    NonUtf8Path {
        /// The offending path.
        path: PathBuf,
    },
    /// A file changed between hashing and archiving.
    #[error("{path}: changed while the package was being written — pack again from a tree nothing else writes to")]
    ChangedWhilePacking {
        /// The file that changed.
        path: String,
    },
    /// Serialising or parsing `index.json` failed.
    #[error(".bale/index.json: {0}")]
    Index(String),
    /// The zstd stream is corrupt or truncated.
    #[error("the archive's zstd stream is corrupt or truncated")]
    Compression(#[source] io::Error),
    /// The tar stream ended early.
    #[error("the archive is truncated: {0}")]
    TruncatedTar(String),
    /// A tar header is malformed.
    #[error("the archive is corrupt: {0}")]
    CorruptTar(String),
    /// The archive does not begin with `.bale/`, `.bale/index.json`, `.bale/manifest.toml`.
    #[error("not a bale package: {0}")]
    MissingIndex(String),
    /// A path has a `..` component.
    #[error(
        "{path}: refused, the path has a `..` component and would land outside the package root"
    )]
    ParentComponent {
        /// The entry's path.
        path: String,
    },
    /// A path is absolute.
    #[error("{path}: refused, the path is absolute")]
    AbsolutePath {
        /// The entry's path.
        path: String,
    },
    /// A path is empty, has `.` or empty components, or a NUL byte.
    #[error("`{}`: refused, not a normal relative path", .path.escape_debug())]
    InvalidPath {
        /// The entry's path.
        path: String,
    },
    /// A symlink points outside the package root.
    #[error("{path}: refused, the symlink's target `{target}` resolves outside the package root")]
    SymlinkOutside {
        /// The symlink.
        path: String,
        /// Its target.
        target: String,
    },
    /// An entry's path passes through a symlink.
    #[error("{path}: refused, the path passes through the symlink {symlink}")]
    ThroughSymlink {
        /// The entry's path.
        path: String,
        /// The symlink on the way.
        symlink: String,
    },
    /// An entry's parent directory is not in the archive before it.
    #[error("{path}: refused, its directory {parent} is not in the archive before it")]
    MissingParent {
        /// The entry's path.
        path: String,
        /// The parent that is missing.
        parent: String,
    },
    /// A hard link entry.
    #[error("{path}: refused, hard links are not allowed in a package")]
    HardLink {
        /// The entry's path.
        path: String,
    },
    /// A device node, fifo or other special entry.
    #[error("{path}: refused, a {kind} is not allowed in a package")]
    SpecialEntry {
        /// The entry's path.
        path: String,
        /// What it is.
        kind: String,
    },
    /// A setuid, setgid or sticky bit.
    #[error("{path}: refused, mode {mode:o} has a setuid, setgid or sticky bit")]
    SpecialMode {
        /// The entry's path.
        path: String,
        /// The mode found.
        mode: u32,
    },
    /// An entry that appears twice.
    #[error("{path}: refused, the entry appears twice")]
    Duplicate {
        /// The entry's path.
        path: String,
    },
    /// The content disagrees with the index.
    #[error("{path}: does not match the index: {what}")]
    IndexMismatch {
        /// The entry's path.
        path: String,
        /// What differs (hash, size, type, mode).
        what: String,
    },
    /// An entry the index does not list.
    #[error("{path}: refused, the entry is not in the index")]
    ExtraEntry {
        /// The entry's path.
        path: String,
    },
    /// An index record without an entry.
    #[error("{path}: listed in the index but missing from the archive")]
    MissingEntry {
        /// The record's path.
        path: String,
    },
    /// A limit of [`crate::Limits`] was passed.
    #[error("refused, the archive exceeds the limit on {what} ({limit}); raise the limit if the package is trusted")]
    LimitExceeded {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: u64,
    },
}

impl ArchiveError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ArchiveError::Io {
            path: path.into(),
            source,
        }
    }

    /// The index and the content disagree about `path`.
    pub(crate) fn mismatch(path: &str, what: impl Into<String>) -> Self {
        ArchiveError::IndexMismatch {
            path: path.to_string(),
            what: what.into(),
        }
    }
}
