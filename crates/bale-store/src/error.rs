//! The one error type of this crate: each message says what happened and what to do.

use std::io;
use std::path::PathBuf;

use bale_coordinate::Coordinate;

/// Everything that can go wrong installing, checking, listing or removing a package.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The archive has no `.minisig` beside it.
    #[error(
        "{archive}: no signature found (expected {signature}); get the .minisig file from the \
         package's publisher and put it beside the package, or install anyway with --allow-unsigned"
    )]
    Unsigned {
        /// The package file.
        archive: PathBuf,
        /// Where the signature was looked for.
        signature: PathBuf,
    },
    /// The signature is malformed, made by an untrusted key, or does not match.
    #[error(
        "{archive}: the signature does not verify. If you trust the publisher, run \
         `bale key trust FILE.pub` with their public key; or install anyway with --allow-unsigned"
    )]
    Signature {
        /// The package file.
        archive: PathBuf,
        /// What verification said.
        #[source]
        source: bale_sign::SignError,
    },
    /// The trusted keys could not be read.
    #[error("cannot read the trusted keys")]
    Keyring(#[source] bale_sign::SignError),
    /// The archive is not a valid package, or could not be unpacked.
    #[error("cannot install {archive}")]
    Archive {
        /// The package file.
        archive: PathBuf,
        /// What the reader said.
        #[source]
        source: bale_archive::ArchiveError,
    },
    /// The package is built for another architecture than this machine's.
    #[error(
        "{coordinate} is built for {arch}; this machine is {machine}: install its {machine} (or \
         `all`) build, or build it for {machine} with `bale build --arch {machine}`"
    )]
    ForeignArch {
        /// The package's coordinate.
        coordinate: String,
        /// The architecture in its index.
        arch: String,
        /// This machine's architecture.
        machine: String,
    },
    /// The index names a coordinate that is not valid.
    #[error("{archive}: the index's coordinate is not valid")]
    Coordinate {
        /// The package file.
        archive: PathBuf,
        /// Why it is not valid.
        #[source]
        source: bale_coordinate::CoordinateError,
    },
    /// Another package is installed under the same coordinate.
    #[error(
        "a different package with coordinate {coordinate} is already installed at {dir}; one \
         coordinate is one set of bytes: publish the change under a new version, or, if the \
         installed one is wrong, remove {dir} first (it is read-only: `chmod -R u+w` it, then \
         `rm -r` it)"
    )]
    Conflict {
        /// The coordinate.
        coordinate: Coordinate,
        /// The installed package's directory.
        dir: PathBuf,
    },
    /// The package's directory would lie inside another installed package.
    #[error(
        "{coordinate} cannot be installed: its directory {dir} would lie inside the installed \
         package at {inside}; choose a group that does not nest under another package's path"
    )]
    Nested {
        /// The coordinate being installed.
        coordinate: Coordinate,
        /// Where it would go.
        dir: PathBuf,
        /// The installed package it would land in.
        inside: PathBuf,
    },
    /// The package's directory exists but holds no installed package.
    #[error(
        "{dir} exists but is not an installed package (no .bale/index.json); move it out of the \
         package store and install again"
    )]
    NotAPackage {
        /// The directory.
        dir: PathBuf,
    },
    /// Nothing is installed under the coordinate.
    #[error("{coordinate} is not installed; install it with `bale install`")]
    NotInstalled {
        /// The coordinate.
        coordinate: Coordinate,
    },
    /// An installed package's own index cannot be read.
    #[error(
        "{path}: the installed package's index cannot be read; remove the package's directory \
         (it is read-only: `chmod -R u+w` it, then `rm -r` it) and install it again"
    )]
    InstalledIndex {
        /// The `.bale/index.json`.
        path: PathBuf,
        /// Why it could not be read.
        #[source]
        source: bale_archive::ArchiveError,
    },
    /// A file system operation failed.
    #[error("cannot read or write {path}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

impl From<bale_fs::FsError> for StoreError {
    fn from(e: bale_fs::FsError) -> Self {
        StoreError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

impl StoreError {
    /// Whether bale itself failed (I/O in its package store), not the
    /// package or the user's request.
    pub fn is_internal(&self) -> bool {
        matches!(self, StoreError::Io { .. })
    }

    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}
