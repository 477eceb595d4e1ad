//! Why a build or a pack failed.

use std::path::{Path, PathBuf};

/// Why a build or a pack failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The manifest's identity is not a valid coordinate.
    #[error(transparent)]
    Coordinate(bale_coordinate::CoordinateError),
    /// Scanning the root or writing the archive failed.
    #[error(transparent)]
    Archive(#[from] bale_archive::ArchiveError),
    /// A file or directory could not be read or written.
    #[error("cannot read or write {}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The sandbox could not run an action.
    #[error(transparent)]
    Sandbox(#[from] bale_sandbox::SandboxError),
    /// A command of a build step (or of `[test]`) failed.
    #[error("step `{step}` failed: `{command}` {reason}\nfull log: {}\nlast lines:\n{last_lines}", log.display())]
    StepFailed {
        /// The step: before, main, after, finalize, dependencies, test.
        step: String,
        /// The command that failed.
        command: String,
        /// Its exit code (128 + N for signal N).
        status: i32,
        /// What happened, in words: "exited with 2", "timed out".
        reason: String,
        /// The build's log file.
        log: PathBuf,
        /// The last lines the step printed.
        last_lines: String,
    },
    /// The source could not be fetched or read.
    #[error("cannot prepare the source: {0}")]
    Source(String),
    /// A `[build] destinations` glob is malformed or matches nothing.
    #[error("[build] destinations: `{pattern}` {problem}")]
    Destination {
        /// The glob.
        pattern: String,
        /// What is wrong.
        problem: String,
    },
    /// A Debian package named for the build does not exist on the stack's mirror.
    #[error("unknown Debian package `{name}` in [dependencies] or the kind's runtime packages: check its name with `apt-cache search`")]
    UnknownPackage {
        /// The package.
        name: String,
    },
    /// Libraries the package's files need that neither the package ships nor
    /// any Debian package of the build environment provides.
    #[error("no Debian package of the build environment provides {}: ship each library in the package (install it under $BALE_PREFIX/lib) or add the Debian package that provides it to [dependencies] runtime", libraries.iter().map(|u| u.to_string()).collect::<Vec<_>>().join("; "))]
    UnresolvedLibraries {
        /// Each library, with the files that need it.
        libraries: Vec<crate::detect::Unresolved>,
    },
    /// A detected package's version is not on the stack's mirror.
    #[error("Debian package `{name}` version {version}, which the package was built against, is not on the stack's mirror: build again on the current stack")]
    UnavailableVersion {
        /// The package.
        name: String,
        /// The version the build environment held.
        version: String,
    },
    /// The root holds ELF files for another architecture than the package's.
    #[error("the package is for {arch} but ships ELF files for {found}: build it on a {arch} stack, or pack it with --arch naming the files' architecture")]
    ForeignMachine {
        /// The package's architecture.
        arch: String,
        /// The architectures the ELF files are for.
        found: String,
    },
    /// The root holds ELF files for several architectures.
    #[error("the root ships ELF files for several architectures ({found}): a package is for one; pack each architecture's files separately")]
    MixedMachines {
        /// The architectures the ELF files are for.
        found: String,
    },
    /// The stack could not be checked or sanitized before the build, or its
    /// architecture cannot run here (no emulator, binfmt_misc refused).
    #[error(transparent)]
    Stack(#[from] bale_stack::StackError),
    /// The build's facts could not be written.
    #[error("cannot write the build facts")]
    Facts(#[from] serde_json::Error),
}

impl From<bale_fs::FsError> for BuildError {
    fn from(e: bale_fs::FsError) -> Self {
        BuildError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

impl BuildError {
    /// Whether bale itself failed (writing its facts), not the source, the
    /// manifest, the sandbox's machine or a build step.
    pub fn is_internal(&self) -> bool {
        match self {
            BuildError::Facts(_) => true,
            BuildError::Stack(e) => e.is_internal(),
            _ => false,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        BuildError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
