//! File facts for the package index: what kind of file each one is and,
//! for ELF files, how it links.

use serde::{Deserialize, Serialize};

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
}
