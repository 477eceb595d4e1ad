//! File facts for the package index: what kind of file each one is and,
//! for ELF files, how it links.
//!
//! [`inspect_file`] is the entry point the package writer uses; [`classify`]
//! and [`elf_facts`] are its two halves, usable on bytes already in memory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod arch;
mod classify;
mod elf;
mod file;

pub use arch::{elf_machine_arch, is_arch_name, machine_arch, ALL};
pub use classify::classify;
pub use elf::elf_facts;
pub use file::inspect_file;

/// What a file in a package is, as recorded in `index.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileClass {
    /// An ELF executable (dynamic, static or static-pie).
    ElfExecutable,
    /// An ELF shared object.
    SharedLibrary,
    /// An `ar` archive of objects (`.a`).
    StaticLibrary,
    /// A file that starts with `#!`.
    Script,
    /// Anything under `etc/`.
    Config,
    /// Everything else.
    Data,
}

/// How an ELF file links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Linkage {
    /// Has a PT_INTERP and needs shared libraries.
    Dynamic,
    /// No interpreter, no dynamic section.
    Static,
    /// Position-independent, self-relocating, no interpreter.
    StaticPie,
}

/// Facts about an ELF file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElfFacts {
    /// How it links.
    pub linkage: Linkage,
    /// The program interpreter, e.g. `/lib64/ld-linux-x86-64.so.2`.
    pub interp: Option<String>,
    /// DT_NEEDED entries, in file order.
    pub needed: Vec<String>,
    /// DT_SONAME, for shared libraries.
    pub soname: Option<String>,
    /// The Debian architecture its header's machine runs on (`amd64`,
    /// `arm64`, …); absent in packages written before it was recorded and
    /// for machines Debian has no port for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
}

/// Everything the index records about one regular file's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    /// What the file is.
    pub class: FileClass,
    /// How it links, for ELF executables and shared objects.
    pub elf: Option<ElfFacts>,
}

/// Why a file could not be inspected.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file could not be opened or read.
    #[error("cannot read {path}; check that it exists and is readable")]
    Read {
        /// The file that failed.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The bytes start with the ELF magic but do not parse as ELF.
    #[error("the file starts like an ELF file but cannot be parsed ({reason}); it may be truncated or corrupt: rebuild it")]
    MalformedElf {
        /// What the ELF parser reported.
        reason: String,
    },
}
