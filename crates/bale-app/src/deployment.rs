//! One app's directory and its deployments:
//!
//! ```text
//! apps/<app>/deployments/<YYYY-MM-DD_HHMMSS>/deployment.json
//! apps/<app>/deployments/by-id/<id> -> ../<YYYY-MM-DD_HHMMSS>
//! apps/<app>/current -> deployments/<YYYY-MM-DD_HHMMSS>
//! apps/<app>/run/  apps/<app>/env  apps/<app>/lock
//! ```
//!
//! A deployment directory appears whole (made under a dot-name, renamed into
//! place) and `current` moves by renaming a new symlink over the old one, so
//! a crash at any point leaves either the old deployment current or the new.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Path, PathBuf};

use bale_coordinate::Coordinate;
use bale_home::Home;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::DeployError;

/// The record kept in each deployment directory.
const RECORD: &str = "deployment.json";
/// The directory of id links under `deployments/`.
const BY_ID: &str = "by-id";

/// The paths of one app under `$BALE_HOME/apps/<app>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppDirs {
    name: String,
    root: PathBuf,
    /// The machine's `config.toml` (unknown for an app moved away to be removed).
    config: Option<PathBuf>,
}

impl AppDirs {
    /// The directories of app `name`, which must be a valid app name.
    pub fn new(home: &Home, name: &str) -> Result<AppDirs, DeployError> {
        bale_coordinate::check_name(name).map_err(|_| DeployError::AppName(name.to_owned()))?;
        Ok(AppDirs {
            name: name.to_owned(),
            root: home.app_dir(name),
            config: Some(home.config_path()),
        })
    }

    /// The directories of app `name` rooted at `root` (an app moved away to be removed).
    pub(crate) fn at(name: &str, root: PathBuf) -> AppDirs {
        AppDirs {
            name: name.to_owned(),
            root,
            config: None,
        }
    }

    /// The app's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `apps/<app>/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `apps/<app>/deployments/`.
    pub fn deployments(&self) -> PathBuf {
        self.root.join("deployments")
    }

    /// `apps/<app>/deployments/by-id/`.
    pub fn by_id(&self) -> PathBuf {
        self.deployments().join(BY_ID)
    }

    /// The `current` symlink.
    pub fn current_link(&self) -> PathBuf {
        self.root.join("current")
    }

    /// The runtime directory: data, logs, pid files.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// Service logs and hook output.
    pub fn logs_dir(&self) -> PathBuf {
        self.run_dir().join("logs")
    }

    /// One pid file per running service.
    pub fn pids_dir(&self) -> PathBuf {
        self.run_dir().join("pids")
    }

    /// The app's variables (given and provisioned ones).
    pub fn env_file(&self) -> PathBuf {
        self.root.join("env")
    }

    /// The deploy lock.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// The machine's configuration file, which sets how service logs rotate.
    pub fn config_path(&self) -> Option<&Path> {
        self.config.as_deref()
    }

    /// Whether the app has a directory at all.
    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }
}

/// One deployment: a package and the variables it runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// sha256 of the package digest and the variables.
    pub id: String,
    /// Order of creation within the app, from 1.
    pub sequence: u64,
    /// The package.
    pub coordinate: Coordinate,
    /// The installed package's directory.
    pub package_dir: PathBuf,
    /// Seconds since the epoch when it was made.
    pub created: u64,
    /// The resolved variables.
    pub variables: BTreeMap<String, String>,
    /// The directory name under `deployments/`.
    #[serde(skip)]
    pub name: String,
}

/// The id of a package digest deployed with these variables.
pub fn deployment_id(package_digest: &str, variables: &BTreeMap<String, String>) -> String {
    let mut hash = Sha256::new();
    hash.update(package_digest.as_bytes());
    for (key, value) in variables {
        hash.update(b"\0");
        hash.update(key.as_bytes());
        hash.update(b"=");
        hash.update(value.as_bytes());
    }
    hex::encode(hash.finalize())
}

/// Makes a new deployment directory with its record, and its `by-id` link.
pub fn create(
    app: &AppDirs,
    coordinate: &Coordinate,
    package_dir: &Path,
    id: String,
    variables: BTreeMap<String, String>,
) -> Result<Deployment, DeployError> {
    let deployments = app.deployments();
    let by_id = app.by_id();
    fs::create_dir_all(&by_id).map_err(|e| DeployError::io(&by_id, e))?;
    let sequence = list(app)?.last().map_or(1, |d| d.sequence + 1);
    let now = bale_fs::now_secs();
    let stamp = date_time(now);
    let mut name = stamp.clone();
    let mut n = 1;
    while deployments.join(&name).exists() {
        n += 1;
        name = format!("{stamp}.{n}");
    }
    let deployment = Deployment {
        id,
        sequence,
        coordinate: coordinate.clone(),
        package_dir: package_dir.to_owned(),
        created: now,
        variables,
        name: name.clone(),
    };
    let partial = deployments.join(format!(".new-{name}-{}", std::process::id()));
    bale_fs::remove_tree(&partial)?;
    fs::create_dir(&partial).map_err(|e| DeployError::io(&partial, e))?;
    let json = serde_json::to_vec_pretty(&deployment)
        .map_err(|e| DeployError::io(&partial, io::Error::other(e)))?;
    // The record holds the variables, secrets among them.
    write_private(&partial.join(RECORD), &json)?;
    bale_fs::sync_dir(&partial)?;
    let dir = deployments.join(&name);
    fs::rename(&partial, &dir).map_err(|e| DeployError::io(&dir, e))?;
    bale_fs::sync_dir(&deployments)?;
    replace_link(&by_id.join(&deployment.id), &Path::new("..").join(&name))?;
    Ok(deployment)
}

/// Every complete deployment of the app, oldest first.
pub fn list(app: &AppDirs) -> Result<Vec<Deployment>, DeployError> {
    let dir = app.deployments();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DeployError::io(&dir, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DeployError::io(&dir, e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || name == BY_ID {
            continue;
        }
        if let Some(deployment) = load(app, &name) {
            found.push(deployment);
        }
    }
    found.sort_by_key(|d| d.sequence);
    Ok(found)
}

/// The deployment called `name` under `deployments/`, if it is complete.
fn load(app: &AppDirs, name: &str) -> Option<Deployment> {
    let bytes = fs::read(app.deployments().join(name).join(RECORD)).ok()?;
    let mut deployment: Deployment = serde_json::from_slice(&bytes).ok()?;
    deployment.name = name.to_owned();
    Some(deployment)
}

/// The deployment `current` points at.
pub fn current(app: &AppDirs) -> Result<Option<Deployment>, DeployError> {
    let link = app.current_link();
    let target = match fs::read_link(&link) {
        Ok(target) => target,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DeployError::io(&link, e)),
    };
    Ok(target
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|name| load(app, name)))
}

/// The deployment whose id is `id`.
pub fn by_id(app: &AppDirs, id: &str) -> Result<Option<Deployment>, DeployError> {
    Ok(list(app)?.into_iter().rev().find(|d| d.id == id))
}

/// The newest deployment made before `deployment`.
pub fn before(app: &AppDirs, deployment: &Deployment) -> Result<Option<Deployment>, DeployError> {
    Ok(list(app)?
        .into_iter()
        .rev()
        .find(|d| d.sequence < deployment.sequence))
}

/// Points `current` at `target` atomically, or removes it when `target` is `None`.
pub fn switch(app: &AppDirs, target: Option<&Deployment>) -> Result<(), DeployError> {
    let link = app.current_link();
    match target {
        Some(deployment) => replace_link(&link, &Path::new("deployments").join(&deployment.name)),
        None => match fs::remove_file(&link) {
            Ok(()) => Ok(bale_fs::sync_dir(app.root())?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(DeployError::io(&link, e)),
        },
    }
}

/// Removes a deployment directory and its `by-id` link if it points there.
pub fn remove(app: &AppDirs, deployment: &Deployment) -> Result<(), DeployError> {
    let link = app.by_id().join(&deployment.id);
    if fs::read_link(&link)
        .ok()
        .is_some_and(|t| t.file_name() == Some(deployment.name.as_ref()))
    {
        fs::remove_file(&link).map_err(|e| DeployError::io(&link, e))?;
    }
    Ok(bale_fs::remove_tree(
        &app.deployments().join(&deployment.name),
    )?)
}

/// Keeps the newest `keep` deployments, and always the current one and the one
/// before it; removes the others and any half-made directory. Returns what went.
pub fn prune(app: &AppDirs, keep: usize) -> Result<Vec<Deployment>, DeployError> {
    clear_partial(app)?;
    let all = list(app)?;
    let current = current(app)?;
    let before_current = match &current {
        Some(c) => before(app, c)?,
        None => None,
    };
    let protected: Vec<&str> = [&current, &before_current]
        .into_iter()
        .flatten()
        .map(|d| d.name.as_str())
        .collect();
    let newest_start = all.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for (i, deployment) in all.iter().enumerate() {
        if i >= newest_start || protected.contains(&deployment.name.as_str()) {
            continue;
        }
        remove(app, deployment)?;
        removed.push(deployment.clone());
    }
    Ok(removed)
}

/// Removes directories a crashed deploy left half-made, and dangling id links.
pub fn clear_partial(app: &AppDirs) -> Result<(), DeployError> {
    let dir = app.deployments();
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(".new-") {
            bale_fs::remove_tree(&entry.path())?;
        }
    }
    if let Ok(links) = fs::read_dir(app.by_id()) {
        for link in links.flatten() {
            let path = link.path();
            if fs::metadata(&path).is_err() {
                let _ = fs::remove_file(&path);
            }
        }
    }
    Ok(())
}

/// Makes `link` point at `target` by renaming a fresh symlink over it.
fn replace_link(link: &Path, target: &Path) -> Result<(), DeployError> {
    let parent = link.parent().unwrap_or(Path::new("."));
    let name = link
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let fresh = parent.join(format!(".{name}.new-{}", std::process::id()));
    let _ = fs::remove_file(&fresh);
    symlink(target, &fresh).map_err(|e| DeployError::io(&fresh, e))?;
    fs::rename(&fresh, link).map_err(|e| DeployError::io(link, e))?;
    Ok(bale_fs::sync_dir(parent)?)
}

/// Writes `bytes` to a new file only its owner can read.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DeployError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| DeployError::io(path, e))?;
    file.write_all(bytes)
        .map_err(|e| DeployError::io(path, e))?;
    file.sync_all().map_err(|e| DeployError::io(path, e))
}

/// `YYYY-MM-DD_HHMMSS` in UTC for seconds since the epoch.
fn date_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rest = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}_{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_are_utc_calendar_dates() {
        assert_eq!(date_time(0), "1970-01-01_000000");
        assert_eq!(date_time(951_782_400 + 3661), "2000-02-29_010101");
        assert_eq!(date_time(1_735_689_599), "2024-12-31_235959");
    }

    #[test]
    fn the_id_changes_with_the_variables() {
        let mut vars = BTreeMap::new();
        let a = deployment_id("sha256:1", &vars);
        vars.insert("K".to_owned(), "v".to_owned());
        assert_ne!(a, deployment_id("sha256:1", &vars));
        assert_ne!(a, deployment_id("sha256:2", &BTreeMap::new()));
    }
}
