//! `.bale/index.json`: identity, stack, dependencies, source, and one record per file.

use bale_inspect::{ElfFacts, FileClass};
use serde::{Deserialize, Serialize};

use crate::paths;
use crate::{ArchiveError, Limits};

/// The version of the index format this crate writes and reads.
pub const FORMAT: u32 = 1;

/// The whole `.bale/index.json`. Serialised with sorted keys and no floats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Always [`FORMAT`].
    pub format: u32,
    /// `group:name:version`.
    pub coordinate: String,
    /// The Debian architecture the package was built for (`amd64`, `arm64`,
    /// …), or `all` when it ships no ELF file. Absent in packages written
    /// before architectures were recorded: read those with [`Index::arch`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
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
    /// The Debian packages that provide the needed libraries the package does
    /// not ship, each as `name=version` with the version the build environment
    /// held (`libxml2=2.9.14+dfsg-1.3~deb12u1`), sorted; older packages name
    /// the package alone.
    pub detected: Vec<String>,
}

impl Dependencies {
    /// Checks that every entry is a Debian package name, and every detected
    /// one optionally `=version`: they are handed to apt on every machine
    /// that runs the package.
    fn check(&self) -> Result<(), ArchiveError> {
        for name in &self.runtime {
            if !is_debian_name(name) {
                return Err(ArchiveError::Index(format!(
                    "dependencies.runtime: `{name}` is not a Debian package name"
                )));
            }
        }
        for spec in &self.detected {
            let ok = match spec.split_once('=') {
                Some((name, version)) => is_debian_name(name) && is_debian_version(version),
                None => is_debian_name(spec),
            };
            if !ok {
                return Err(ArchiveError::Index(format!(
                    "dependencies.detected: `{spec}` is not a Debian package name and version"
                )));
            }
        }
        Ok(())
    }
}

/// Debian's package name syntax, `[a-z0-9][a-z0-9+.-]+`, with an optional `:arch`.
fn is_debian_name(name: &str) -> bool {
    let (base, arch) = name.split_once(':').unwrap_or((name, "x"));
    let mut bytes = base.bytes();
    base.len() >= 2
        && matches!(bytes.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && bytes.all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'.' | b'-')
        })
        && !arch.is_empty()
        && arch
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// Debian's version syntax, loosely: `[A-Za-z0-9.+~:-]`, starting with a digit.
fn is_debian_version(version: &str) -> bool {
    version.len() <= 128
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'~' | b':' | b'-'))
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

impl std::fmt::Display for EntryType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EntryType::File => "file",
            EntryType::Dir => "directory",
            EntryType::Symlink => "symlink",
        })
    }
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

/// The architecture of a package whose index names none: every such package
/// was built on an amd64 stack.
pub const LEGACY_ARCH: &str = "amd64";

impl Index {
    /// The package's architecture: the recorded one, else [`LEGACY_ARCH`].
    pub fn arch(&self) -> &str {
        self.arch.as_deref().unwrap_or(LEGACY_ARCH)
    }

    /// Whether the package runs on a machine of Debian architecture
    /// `machine`: it is built for it, or for `all`.
    pub fn runs_on(&self, machine: &str) -> bool {
        let arch = self.arch();
        arch == machine || arch == bale_inspect::ALL
    }

    /// The deterministic bytes of `index.json`: sorted keys, no floats, a trailing newline.
    pub fn to_json(&self) -> Result<Vec<u8>, ArchiveError> {
        crate::json::to_canonical_json(self)
    }

    /// Parses `index.json` and checks it is well-formed (see [`Index::check`]).
    pub fn from_json(bytes: &[u8], limits: &Limits) -> Result<Index, ArchiveError> {
        let index: Index =
            serde_json::from_slice(bytes).map_err(|e| ArchiveError::Index(e.to_string()))?;
        index.check(limits)?;
        Ok(index)
    }

    /// Checks what a reader relies on: the format, safe sorted unique paths,
    /// records whose fields fit their type, sizes that add up, and the limits.
    pub fn check(&self, limits: &Limits) -> Result<(), ArchiveError> {
        if self.format != FORMAT {
            return Err(ArchiveError::Index(format!(
                "format {} is not supported (this bale reads format {FORMAT}); upgrade bale",
                self.format
            )));
        }
        self.coordinate
            .parse::<bale_coordinate::Coordinate>()
            .map_err(|e| ArchiveError::Index(e.to_string()))?;
        self.dependencies.check()?;
        self.check_arch()?;
        if self.files.len() as u64 > limits.max_entries {
            return Err(ArchiveError::LimitExceeded {
                what: "entries",
                limit: limits.max_entries,
            });
        }
        let mut total: u64 = 0;
        let mut previous: Option<&str> = None;
        let mut symlinks = std::collections::HashSet::new();
        for record in &self.files {
            let path = record.path.as_str();
            crate::paths::check_relative(path)?;
            if path == paths::BALE_DIR || path.starts_with(".bale/") {
                return Err(ArchiveError::Index(format!("{path}: `.bale/` is reserved")));
            }
            if previous.is_some_and(|p| p >= path) {
                return Err(ArchiveError::Index(format!(
                    "{path}: records are not sorted and unique"
                )));
            }
            previous = Some(path);
            record.check_shape()?;
            let mut ancestor = paths::parent(path);
            while let Some(dir) = ancestor {
                if symlinks.contains(dir) {
                    return Err(ArchiveError::ThroughSymlink {
                        path: path.to_string(),
                        symlink: dir.to_string(),
                    });
                }
                ancestor = paths::parent(dir);
            }
            if record.entry_type == EntryType::Symlink {
                symlinks.insert(path);
            }
            total = total.saturating_add(record.size.unwrap_or(0));
        }
        if total != self.installed_size {
            return Err(ArchiveError::Index(format!(
                "installed_size {} is not the sum of the file sizes ({total})",
                self.installed_size
            )));
        }
        if total > limits.max_unpacked_bytes {
            return Err(ArchiveError::LimitExceeded {
                what: "unpacked bytes",
                limit: limits.max_unpacked_bytes,
            });
        }
        Ok(())
    }
}

impl Index {
    /// Checks that the architecture is a plain name and that every ELF file
    /// whose machine is recorded runs on it: an `amd64` package shipping an
    /// aarch64 binary, or an `all` package shipping any ELF file, would fail
    /// only when run, on some machines, so it is refused when read.
    fn check_arch(&self) -> Result<(), ArchiveError> {
        let arch = self.arch();
        if !bale_inspect::is_arch_name(arch) {
            return Err(ArchiveError::Index(format!(
                "arch `{arch}` is not a Debian architecture name (`amd64`, `arm64`, …) or `all`"
            )));
        }
        for record in &self.files {
            let Some(machine) = record.elf.as_ref().and_then(|e| e.machine.as_deref()) else {
                continue;
            };
            if arch == bale_inspect::ALL {
                return Err(ArchiveError::Index(format!(
                    "{}: an {machine} ELF file in a package marked `all` (for every architecture); build it for {machine}",
                    record.path
                )));
            }
            if machine != arch {
                return Err(ArchiveError::Index(format!(
                    "{}: an {machine} ELF file in a package built for {arch}; rebuild it on an {arch} stack or pack it as {machine}",
                    record.path
                )));
            }
        }
        Ok(())
    }
}

impl FileRecord {
    /// Checks that the record has exactly the fields its type calls for.
    fn check_shape(&self) -> Result<(), ArchiveError> {
        let bad = |what: &str| Err(ArchiveError::Index(format!("{}: {what}", self.path)));
        match self.entry_type {
            EntryType::File => {
                if !matches!(self.mode, Some(0o755 | 0o644)) {
                    return bad("a file's mode must be 493 (0755) or 420 (0644)");
                }
                if self.size.is_none() {
                    return bad("a file needs a size");
                }
                match &self.sha256 {
                    Some(h) if is_sha256_hex(h) => {}
                    _ => return bad("a file needs a sha256 of 64 lower-case hex digits"),
                }
                if self.target.is_some() {
                    return bad("a file has no target");
                }
            }
            EntryType::Dir => {
                if self.mode != Some(0o755) {
                    return bad("a directory's mode must be 493 (0755)");
                }
                if self.size.is_some() || self.sha256.is_some() || self.target.is_some() {
                    return bad("a directory has no size, sha256 or target");
                }
            }
            EntryType::Symlink => {
                let Some(target) = &self.target else {
                    return bad("a symlink needs a target");
                };
                crate::paths::check_symlink(&self.path, target)?;
                if self.mode.is_some() || self.size.is_some() || self.sha256.is_some() {
                    return bad("a symlink has no mode, size or sha256");
                }
            }
        }
        Ok(())
    }
}

/// Whether `s` is 64 lower-case hex digits.
fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(runtime: &[&str], detected: &[&str]) -> Dependencies {
        Dependencies {
            runtime: runtime.iter().map(|s| s.to_string()).collect(),
            detected: detected.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn detected_dependencies_are_names_with_debian_versions_and_nothing_a_shell_would_read() {
        assert!(deps(
            &["libpq5"],
            &[
                "libc6=2.36-9+deb12u7",
                "libxml2=2.9.14+dfsg-1.3~deb12u1",
                "zlib1g"
            ]
        )
        .check()
        .is_ok());
        for bad in [
            "libc6=$(id)",
            "libc6=1 x",
            "x",
            "libc6=",
            "=1.0",
            "Libc6=1.0",
        ] {
            assert!(deps(&[], &[bad]).check().is_err(), "{bad}");
        }
        assert!(deps(&["curl;id"], &[]).check().is_err());
    }
}
