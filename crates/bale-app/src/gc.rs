//! `bale gc`: removing installed packages that no kept deployment of any app uses.
//!
//! A deploy installs its package and records it in a deployment; between the
//! two the package looks unused. So a deploy holds the store lock
//! (`$BALE_HOME/pkgs.lock`) shared for its whole run, and gc holds it
//! exclusively: it never runs beside a deploy, and a deploy started during a
//! gc waits for it.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use bale_coordinate::Coordinate;
use bale_home::Home;
use bale_store::Store;
use rustix::fs::{flock, FlockOperation};
use serde::Serialize;

use crate::deployment::{self, AppDirs};
use crate::DeployError;

/// The store lock's file under `$BALE_HOME`.
const STORE_LOCK: &str = "pkgs.lock";

/// The store lock, held shared by a deploy and exclusively by gc; dropping it lets go.
#[derive(Debug)]
pub struct StoreLock {
    // Held for its lock; closing it unlocks.
    _file: File,
}

impl StoreLock {
    /// Holds the lock shared (a deploy), waiting while a gc runs.
    pub fn shared(home: &Home) -> Result<StoreLock, DeployError> {
        StoreLock::take(home, FlockOperation::LockShared)
    }

    /// Holds the lock exclusively (gc), or fails at once while a deploy runs.
    fn exclusive(home: &Home) -> Result<StoreLock, DeployError> {
        StoreLock::take(home, FlockOperation::NonBlockingLockExclusive).map_err(|e| match e {
            DeployError::Io { source, .. } if source.kind() == io::ErrorKind::WouldBlock => {
                DeployError::Busy {
                    what: "a deploy is running on this machine; run `bale gc` again when it \
                           has finished"
                        .into(),
                }
            }
            other => other,
        })
    }

    fn take(home: &Home, operation: FlockOperation) -> Result<StoreLock, DeployError> {
        let path = home.root().join(STORE_LOCK);
        fs::create_dir_all(home.root()).map_err(|e| DeployError::io(home.root(), e))?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| DeployError::io(&path, e))?;
        flock(&file, operation).map_err(|e| DeployError::io(&path, e.into()))?;
        Ok(StoreLock { _file: file })
    }
}

/// An installed package that gc removed, or would remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Collected {
    /// The package.
    pub coordinate: String,
    /// Where it was installed.
    pub dir: PathBuf,
    /// The bytes its files took.
    pub bytes: u64,
}

/// What a gc did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Whether it only listed what it would remove.
    pub dry_run: bool,
    /// The unused packages, removed unless `dry_run`.
    pub removed: Vec<Collected>,
    /// The installed packages a kept deployment uses.
    pub kept: Vec<String>,
    /// The bytes freed (or that would be).
    pub freed_bytes: u64,
}

/// Removes every installed package that no kept deployment of any app uses;
/// with `dry_run`, only says which (docs/runtime.md, "Removing unused packages").
pub fn collect_garbage(home: &Home, dry_run: bool) -> Result<GcReport, DeployError> {
    let _lock = StoreLock::exclusive(home)?;
    let used = used_packages(home)?;
    let store = Store::new(home.clone());
    let mut report = GcReport {
        dry_run,
        removed: Vec::new(),
        kept: Vec::new(),
        freed_bytes: 0,
    };
    for coordinate in store.list()? {
        if used.contains(&coordinate) {
            report.kept.push(coordinate.to_string());
            continue;
        }
        let dir = home.package_dir(&coordinate);
        let bytes = tree_bytes(&dir);
        if !dry_run {
            store.remove(&coordinate)?;
        }
        report.freed_bytes += bytes;
        report.removed.push(Collected {
            coordinate: coordinate.to_string(),
            dir,
            bytes,
        });
    }
    Ok(report)
}

/// The packages of every kept deployment of every app.
fn used_packages(home: &Home) -> Result<BTreeSet<Coordinate>, DeployError> {
    let apps = home.apps_dir();
    let entries = match fs::read_dir(&apps) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(DeployError::io(&apps, e)),
    };
    let mut used = BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| DeployError::io(&apps, e))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        // Not an app: a name bale would not give one (an uninstall's leftovers, say).
        let Ok(app) = AppDirs::new(home, &name) else {
            continue;
        };
        if !entry.path().is_dir() {
            continue;
        }
        for kept in deployment::list(&app)? {
            used.insert(kept.coordinate);
        }
    }
    Ok(used)
}

/// The bytes of the files under `dir`, not following symlinks.
fn tree_bytes(dir: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| tree_bytes(&e.path())).sum())
        .unwrap_or(0)
}
