//! Stack images: clean base systems that builds run on.
//!
//! A stack is admin configuration (`stacks.toml`, shipped with bale and
//! overridable in `$BALE_HOME/stacks.toml`) naming how a base system is
//! made: a Debian suite by debootstrap, or `host`, the host's own root
//! file system used read-only for fast tests.
//!
//! `create` runs debootstrap into a staging directory beside the stacks and
//! swaps the finished stack in with one rename, so a crash leaves the old
//! stack or the new one. The stack's record (`stack.json`) holds the image
//! digest (sha256 over a deterministic manifest of every entry: path, type,
//! mode, owner, size, content hash or link target; the manifest itself is
//! kept as `manifest.txt` so differences can be named), the installed
//! packages from `dpkg-query`, the creation time and the mirror. The mirror
//! comes from `--mirror`, the stack's or the file's `mirror`, else the
//! host's apt sources; the image's own apt points at the same mirror.
//!
//! The record also holds the image's **identity by content** (see
//! [`identity_of`]): sha256 of its suite, architecture and sorted
//! `name=version` list. Two debootstraps of a suite are never
//! byte-identical, so a package's index and its layers' keys name the
//! identity, while the byte digest stays in build records for sanitize.
//! `create` refuses a stack that exists; `recreate` replaces it and drops
//! its layers.
//!
//! [`Stacks::checked_image`] is what a build takes its image from: it
//! sanitizes an image that no longer matches its record, saying so first,
//! and hands it out with a shared [`StackLease`] the build holds while it
//! runs; sanitize, `recreate`, `rm` and `stop` wait for those leases.
//!
//! `sanitize` recomputes the digest and package list, reports what differs
//! and rebuilds through `create`. Rebuilding re-runs debootstrap unless an
//! image cache is configured (`image-cache` in stacks.toml, or
//! [`Stacks::with_image_cache`]): a directory of
//! pristine stacks that `create` fills after a debootstrap and copies from
//! (after re-verifying the cached copy's digest) instead of downloading
//! again. The cache holds images that were never used as a root, so it is
//! the better source for a restore than anything in use.
//!
//! Warm and cold: `start` marks a stack warm and reads its image once into
//! the page cache; its dependency layers (`layers/`, built by the builder)
//! are kept. `stop` drops the mark and evicts the dependency layers; the
//! image stays until `rm`.

mod arch;
mod check;
mod config;
mod debootstrap;
mod digest;
pub mod dpkg;
mod emulation;
mod identity;
mod lease;
mod mirror;
mod record;
mod stacks;

use std::path::PathBuf;

pub use arch::{check_arch, image_dir_name, machine_arch, UNMARKED_ARCH};
pub use check::CheckedImage;
pub use config::{check_name, StackDef, StacksConfig, SHIPPED_STACKS};
pub use digest::{
    image_manifest, manifest_differences, package_differences, Difference, ImageManifest,
};
pub use emulation::{ensure_emulation, Execution};
pub use identity::{identity_of, identity_text, image_identity, installed_packages, StackIdentity};
pub use lease::StackLease;
pub use mirror::{host_mirror, mirror_from_sources};
pub use record::StackRecord;
pub use stacks::{SanitizeReport, StackImage, StackInfo, StackState, Stacks, HOST_DIGEST};

/// Why a stack operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A stack configuration file is malformed.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A name that cannot be a stack name.
    #[error("`{name}` is not a valid stack name: use lowercase letters, digits, '-', '.' or '_', starting with a letter or digit")]
    BadName {
        /// The name.
        name: String,
    },
    /// An architecture bale cannot make a stack for.
    #[error("`{arch}` is not an architecture bale can make a stack for: use one of {known}")]
    BadArch {
        /// The name asked for.
        arch: String,
        /// The known Debian architecture names.
        known: String,
    },
    /// The emulator for another architecture is not installed.
    #[error("running {arch} programs on this {machine} machine needs qemu's user emulators: install the `qemu-user-static`, `binfmt-support` and `arch-test` packages (`apt-get install qemu-user-static binfmt-support arch-test`)")]
    EmulationMissing {
        /// The architecture asked for.
        arch: String,
        /// This machine's architecture.
        machine: &'static str,
    },
    /// The kernel's binfmt_misc cannot run the emulator.
    #[error("{arch} programs cannot run through binfmt_misc ({entry}): {message}")]
    Binfmt {
        /// The architecture asked for.
        arch: String,
        /// The binfmt_misc entry.
        entry: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// No stack of that name is configured.
    #[error(
        "no stack named `{name}`: known stacks are {known} (add others in $BALE_HOME/stacks.toml)"
    )]
    Unknown {
        /// The name asked for.
        name: String,
        /// The configured names.
        known: String,
    },
    /// The stack is configured but has no image yet.
    #[error("stack `{name}` has not been created{for_arch}: run `bale stack create {name}{arch_flag}`", for_arch = arch.as_ref().map(|a| format!(" for {a}")).unwrap_or_default(), arch_flag = arch.as_ref().map(|a| format!(" --arch {a}")).unwrap_or_default())]
    NotCreated {
        /// The stack.
        name: String,
        /// The architecture, when it is not the unmarked one ([`UNMARKED_ARCH`]).
        arch: Option<String>,
    },
    /// A Debian operation on a stack that is not Debian.
    #[error("stack `{name}` is not made by debootstrap")]
    NotDebian {
        /// The stack.
        name: String,
    },
    /// The host stack asked for another architecture than the machine's.
    #[error("stack `{name}` is this {machine} machine's own root, so it cannot be {arch}: use a Debian stack (`bale stack create debian-bookworm --arch {arch}`)")]
    HostArch {
        /// The stack.
        name: String,
        /// The architecture asked for.
        arch: String,
        /// This machine's architecture.
        machine: &'static str,
    },
    /// No mirror was given or found.
    #[error("no Debian mirror for stack `{name}`: pass `--mirror <url>`, set `mirror` in stacks.toml, or add a Debian source to /etc/apt")]
    NoMirror {
        /// The stack.
        name: String,
    },
    /// `create` of a stack that already has an image.
    #[error("stack `{name}` already exists: run `bale stack sanitize {name}` to check it against its record and restore it, or `bale stack create {name} --recreate` to make a new one (its dependency layers are dropped)")]
    Exists {
        /// The stack.
        name: String,
    },
    /// An image without a dpkg database cannot be identified.
    #[error("the image at {root} has no dpkg database (var/lib/dpkg/status) to identify it by: it is damaged; run `bale stack sanitize` or `bale stack create --recreate` on its stack")]
    NoPackageDatabase {
        /// The image's root.
        root: PathBuf,
    },
    /// debootstrap needs root.
    #[error("creating stack `{name}` needs root (debootstrap makes device nodes and root-owned files): run `sudo bale stack create {name}`")]
    NeedsRoot {
        /// The stack.
        name: String,
    },
    /// A tool bale runs is missing.
    #[error("`{tool}` was not found: install the `{package}` package")]
    ToolMissing {
        /// The program.
        tool: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// A tool could not be started.
    #[error("cannot run `{tool}`")]
    Spawn {
        /// The program.
        tool: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// debootstrap or dpkg-query failed.
    #[error("making the base system failed ({status}); check the mirror and the network. Last output:\n{output}")]
    Debootstrap {
        /// The exit status.
        status: String,
        /// The last lines it printed.
        output: String,
    },
    /// Copying an image failed.
    #[error("cannot copy {from} to {to}: {message}")]
    Copy {
        /// The source.
        from: PathBuf,
        /// The destination.
        to: PathBuf,
        /// What cp said.
        message: String,
    },
    /// A copied image does not have the digest of its source.
    #[error("the copy of stack `{name}` from the image cache does not match its digest: remove the cache entry and create again")]
    CopyMismatch {
        /// The stack.
        name: String,
    },
    /// A `stack.json` is unreadable.
    #[error("stack record {path} is damaged ({message}): run `bale stack rm` and create the stack again")]
    Record {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A file system operation failed.
    #[error("cannot read or write {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<bale_fs::FsError> for StackError {
    fn from(e: bale_fs::FsError) -> Self {
        StackError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

impl StackError {
    /// Whether bale itself failed (I/O on its stacks), not the user's
    /// configuration, machine or request.
    pub fn is_internal(&self) -> bool {
        matches!(self, StackError::Io { .. })
    }
}
