//! `bale verify`: an installed package walked against its own index.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use bale_archive::{EntryType, FileRecord, Index};
use bale_coordinate::Coordinate;
use sha2::{Digest, Sha256};

use crate::staging::READ_ONLY_DIR;
use crate::store::{INDEX_PATH, MANIFEST_PATH};
use crate::StoreError;

/// What is wrong with one path of an installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The content differs from the index (its sha256, or its size).
    Modified {
        /// What differs, e.g. `size 12, expected 10`.
        what: String,
    },
    /// The index lists it but it is not there.
    Missing,
    /// It is there but the index does not list it.
    Extra,
    /// It is a different kind of entry than the index says.
    TypeChanged {
        /// What the index says.
        expected: &'static str,
        /// What is there.
        found: &'static str,
    },
    /// Its permission bits differ from the installed, read-only ones.
    ModeChanged {
        /// The mode an installed entry has.
        expected: u32,
        /// The mode found.
        found: u32,
    },
    /// A symlink points somewhere else.
    TargetChanged {
        /// The target in the index.
        expected: String,
        /// The target found.
        found: String,
    },
}

/// One finding: a path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The path relative to the package root.
    pub path: String,
    /// What is wrong.
    pub problem: Problem,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = &self.path;
        match &self.problem {
            Problem::Modified { what } => write!(f, "{path}: modified ({what})"),
            Problem::Missing => write!(f, "{path}: missing"),
            Problem::Extra => write!(f, "{path}: not part of the package"),
            Problem::TypeChanged { expected, found } => {
                write!(f, "{path}: is a {found}, expected a {expected}")
            }
            Problem::ModeChanged { expected, found } => {
                write!(f, "{path}: mode {found:o}, expected {expected:o}")
            }
            Problem::TargetChanged { expected, found } => {
                write!(
                    f,
                    "{path}: symlink points to `{found}`, expected `{expected}`"
                )
            }
        }
    }
}

/// The result of checking an installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The package checked.
    pub coordinate: Coordinate,
    /// Everything that differs from the index, sorted by path.
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// Whether the installed package matches its index exactly.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// Every path with a finding, once each, sorted.
    pub fn paths(&self) -> Vec<&str> {
        let set: BTreeSet<&str> = self.findings.iter().map(|f| f.path.as_str()).collect();
        set.into_iter().collect()
    }

    /// The paths with a given kind of finding, e.g. `report.paths_where(|p| matches!(p, Problem::Missing))`.
    pub fn paths_where(&self, pick: impl Fn(&Problem) -> bool) -> Vec<&str> {
        self.findings
            .iter()
            .filter(|f| pick(&f.problem))
            .map(|f| f.path.as_str())
            .collect()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return write!(f, "{}: every file matches the index", self.coordinate);
        }
        writeln!(
            f,
            "{}: {} path(s) differ from the index:",
            self.coordinate,
            self.paths().len()
        )?;
        for finding in &self.findings {
            writeln!(f, "  {finding}")?;
        }
        Ok(())
    }
}

/// Checks the package root `dir` against `index`.
pub(crate) fn walk(
    coordinate: Coordinate,
    dir: &Path,
    index: &Index,
) -> Result<VerifyReport, StoreError> {
    let mut findings = Vec::new();
    let listed: BTreeSet<&str> = index.files.iter().map(|r| r.path.as_str()).collect();
    for record in &index.files {
        check_record(dir, record, &mut findings)?;
    }
    for (path, expected) in [
        ("", READ_ONLY_DIR),
        (".bale", READ_ONLY_DIR),
        (INDEX_PATH, 0o444),
        (MANIFEST_PATH, 0o444),
    ] {
        check_own_mode(dir, path, expected, &mut findings)?;
    }
    find_extra(dir, "", &listed, &mut findings)?;
    findings.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(VerifyReport {
        coordinate,
        findings,
    })
}

fn type_name(file_type: fs::FileType) -> &'static str {
    if file_type.is_symlink() {
        "symlink"
    } else if file_type.is_dir() {
        "directory"
    } else if file_type.is_file() {
        "file"
    } else {
        "special file"
    }
}

fn record_type_name(entry_type: EntryType) -> &'static str {
    match entry_type {
        EntryType::File => "file",
        EntryType::Dir => "directory",
        EntryType::Symlink => "symlink",
    }
}

/// The permission bits an installed entry has: the index's, without write access.
fn installed_mode(record: &FileRecord) -> u32 {
    match record.entry_type {
        EntryType::Dir => READ_ONLY_DIR,
        _ => record.mode.unwrap_or(0o644) & 0o7777 & !0o222,
    }
}

fn check_record(
    dir: &Path,
    record: &FileRecord,
    findings: &mut Vec<Finding>,
) -> Result<(), StoreError> {
    let path = dir.join(&record.path);
    let mut found = |problem| {
        findings.push(Finding {
            path: record.path.clone(),
            problem,
        })
    };
    let meta = match fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            found(Problem::Missing);
            return Ok(());
        }
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    let expected = record_type_name(record.entry_type);
    let actual = type_name(meta.file_type());
    if expected != actual {
        found(Problem::TypeChanged {
            expected,
            found: actual,
        });
        return Ok(());
    }
    if record.entry_type == EntryType::Symlink {
        let target = fs::read_link(&path).map_err(|e| StoreError::io(&path, e))?;
        let target = target.to_string_lossy().into_owned();
        let expected = record.target.clone().unwrap_or_default();
        if target != expected {
            found(Problem::TargetChanged {
                expected,
                found: target,
            });
        }
        return Ok(());
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode != installed_mode(record) {
        found(Problem::ModeChanged {
            expected: installed_mode(record),
            found: mode,
        });
    }
    if record.entry_type == EntryType::File {
        let size = meta.size();
        if record.size.is_some_and(|expected| expected != size) {
            found(Problem::Modified {
                what: format!("size {size}, expected {}", record.size.unwrap_or(0)),
            });
        } else {
            let sha256 = hash_file(&path)?;
            if record.sha256.as_deref() != Some(sha256.as_str()) {
                found(Problem::Modified {
                    what: "content differs (sha256)".into(),
                });
            }
        }
    }
    Ok(())
}

/// Checks the mode of the package root and of `.bale/`, which the index does not list.
fn check_own_mode(
    dir: &Path,
    rel: &str,
    expected: u32,
    findings: &mut Vec<Finding>,
) -> Result<(), StoreError> {
    let path = if rel.is_empty() {
        dir.to_owned()
    } else {
        dir.join(rel)
    };
    let shown = if rel.is_empty() {
        ".".to_owned()
    } else {
        rel.to_owned()
    };
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.permissions().mode() & 0o7777 != expected => {
            findings.push(Finding {
                path: shown,
                problem: Problem::ModeChanged {
                    expected,
                    found: meta.permissions().mode() & 0o7777,
                },
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => findings.push(Finding {
            path: shown,
            problem: Problem::Missing,
        }),
        Err(e) => return Err(StoreError::io(&path, e)),
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<String, StoreError> {
    let mut file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(|e| StoreError::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Reports entries under `dir/prefix` that the index does not list.
fn find_extra(
    root: &Path,
    prefix: &str,
    listed: &BTreeSet<&str>,
    findings: &mut Vec<Finding>,
) -> Result<(), StoreError> {
    let dir = if prefix.is_empty() {
        root.to_owned()
    } else {
        root.join(prefix)
    };
    for entry in fs::read_dir(&dir).map_err(|e| StoreError::io(&dir, e))? {
        let entry = entry.map_err(|e| StoreError::io(&dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if rel == ".bale" || rel == INDEX_PATH || rel == MANIFEST_PATH {
            if rel == ".bale" {
                find_extra(root, &rel, listed, findings)?;
            }
            continue;
        }
        let is_dir = entry
            .file_type()
            .map_err(|e| StoreError::io(entry.path(), e))?
            .is_dir();
        if !listed.contains(rel.as_str()) {
            findings.push(Finding {
                path: rel,
                problem: Problem::Extra,
            });
        } else if is_dir {
            find_extra(root, &rel, listed, findings)?;
        }
    }
    Ok(())
}
