//! `.bale/index.json`: identity, stack, dependencies, source, and one record per file.

use bale_inspect::{ElfFacts, FileClass};
use serde::{Deserialize, Serialize};

/// The version of the index format this crate writes and reads.
pub const FORMAT: u32 = 1;

/// The whole `.bale/index.json`. Serialised with sorted keys and no floats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Always [`FORMAT`].
    pub format: u32,
    /// `group:name:version`.
    pub coordinate: String,
    /// The stack the package was built on.
    pub stack: StackRef,
    /// Declared and detected run-time dependencies.
    pub dependencies: Dependencies,
    /// Where the source came from.
    pub source: SourceRef,
    /// Every entry in the package root except `.bale/`, sorted by path.
    pub files: Vec<FileRecord>,
    /// Sum of regular files' sizes.
    pub installed_size: u64,
}

/// The stack a package was built on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackRef {
    /// e.g. `debian-bookworm`, or `host`.
    pub name: String,
    /// `sha256:<hex>` of the stack image, empty when unknown.
    pub digest: String,
}

/// Run-time dependencies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependencies {
    /// Declared in `[dependencies] runtime`.
    pub runtime: Vec<String>,
    /// Debian packages that provide the needed libraries the package does not ship.
    pub detected: Vec<String>,
}

/// Where the source came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    /// The git URL or path, when the source was a git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<String>,
    /// The resolved commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryType {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
}

/// One entry of the package root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Relative path, `/`-separated, no leading `./`.
    pub path: String,
    /// File, directory or symlink.
    #[serde(rename = "type")]
    pub entry_type: EntryType,
    /// 493 (0755) or 420 (0644); absent for symlinks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Size in bytes, regular files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Lower-case hex sha256 of the content, regular files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The file's class, regular files only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<FileClass>,
    /// ELF facts, ELF files only (null elsewhere is omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elf: Option<ElfFacts>,
    /// The link target, symlinks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}
