//! The user an app's processes run as (docs/runtime.md, "App users").
//!
//! As root, bale runs every service, hook and command of app `APP` as the
//! system user `bale-APP`, made on first use with `useradd --system`; root
//! only where `$BALE_HOME/config.toml` says `[apps.APP] user = "root"`. As
//! an ordinary user, bale runs apps as that user: it cannot switch.
//!
//! The app's user owns its runtime directory `run/` and nothing else of
//! bale's: `run/logs/` and `run/pids/` stay bale's (they hold what bale
//! reads and signals), and so does the `env` file, which holds the app's
//! secrets and reaches its processes only through their environment.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use bale_home::Home;
use sha2::{Digest, Sha256};

use crate::config;
use crate::deployment::AppDirs;
use crate::DeployError;

/// The longest user name `useradd` takes.
const MAX_USER_NAME: usize = 32;
/// The prefix of every app user's name.
const PREFIX: &str = "bale-";

/// An app's own unprivileged user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppUser {
    /// Its name, `bale-<app>` (see [`user_name`]).
    pub name: String,
    /// Its user id.
    pub uid: u32,
    /// Its own group's id.
    pub gid: u32,
}

/// The user name of app `app`: `bale-<app>`, or where that is longer than
/// 32 characters, `bale-` + the app's first 18 characters + `-` + the first
/// 8 hex digits of the sha256 of the whole app name. App names are already
/// `[a-z0-9][a-z0-9._-]*`, every character of which `useradd` takes.
pub fn user_name(app: &str) -> String {
    let plain = format!("{PREFIX}{app}");
    if plain.len() <= MAX_USER_NAME {
        return plain;
    }
    let hash = hex::encode(Sha256::digest(app.as_bytes()));
    let keep = MAX_USER_NAME - PREFIX.len() - 1 - 8;
    format!("{PREFIX}{}-{}", &app[..keep], &hash[..8])
}

/// The user app `app` runs as, made if missing; `None` when its processes
/// keep bale's own user (bale is not root, or the machine lets the app run
/// as root).
pub(crate) fn app_user(home: &Home, app: &str) -> Result<Option<AppUser>, DeployError> {
    if !rustix::process::geteuid().is_root() || runs_as_root(home, app)? {
        return Ok(None);
    }
    let name = user_name(app);
    if let Some(user) = lookup(&name)? {
        return Ok(Some(user));
    }
    let mut failure = String::new();
    // Another bale making the same user holds the user database's lock for a
    // moment, and useradd then fails at once: look again, try again.
    for attempt in 0..USERADD_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(100 << attempt));
        }
        let made = Command::new("useradd")
            .args(["--system", "--no-create-home", "--home-dir", "/nonexistent"])
            .args(["--shell", "/usr/sbin/nologin", "--user-group", "--"])
            .arg(&name)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| DeployError::Spawn {
                what: format!(
                    "useradd, to make the app's user {name} (install the `passwd` package)"
                ),
                source,
            })?;
        if let Some(user) = lookup(&name)? {
            return Ok(Some(user));
        }
        failure = format!(
            "useradd failed ({}): {}",
            made.status,
            String::from_utf8_lossy(&made.stderr).trim()
        );
    }
    Err(DeployError::AppUser {
        user: name,
        message: failure,
    })
}

/// How often making a user is tried before giving up.
const USERADD_ATTEMPTS: u32 = 5;

/// The user `name` from the system's user database, if it exists.
fn lookup(name: &str) -> Result<Option<AppUser>, DeployError> {
    let out = Command::new("getent")
        .args(["passwd", "--"])
        .arg(name)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| DeployError::Spawn {
            what: "getent, to look up the app's user".into(),
            source,
        })?;
    // getent exits 2 for a name it does not know.
    if !out.status.success() {
        return Ok(None);
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = line.trim().split(':').collect();
    let parsed = match fields.as_slice() {
        [found, _, uid, gid, ..] if *found == name => uid.parse().ok().zip(gid.parse().ok()),
        _ => None,
    };
    match parsed {
        Some((uid, gid)) => Ok(Some(AppUser {
            name: name.to_owned(),
            uid,
            gid,
        })),
        None => Err(DeployError::AppUser {
            user: name.to_owned(),
            message: format!("getent printed an entry bale cannot read: {}", line.trim()),
        }),
    }
}

/// Whether `$BALE_HOME/config.toml` lets `app` run as root: `[apps.APP] user = "root"`.
fn runs_as_root(home: &Home, app: &str) -> Result<bool, DeployError> {
    let path = home.config_path();
    let table = config::read_table(&path)?;
    let bad = |message: String| config::invalid(&path, message);
    let user = table
        .get("apps")
        .and_then(|apps| apps.get(app))
        .and_then(|settings| settings.get("user"));
    match user {
        None => Ok(false),
        Some(toml::Value::String(s)) if s == "root" => Ok(true),
        Some(other) => Err(bad(format!(
            "`apps.{app}.user` is {other}; the only setting is \"root\" (leave it out to run the app as {})",
            user_name(app)
        ))),
    }
}

/// Gives the app's user its runtime directory: `run/` is the user's (mode
/// 0750), `run/logs/` and `run/pids/` are bale's and must not be anything
/// the app could have put there (a symlink, a directory of its own).
pub(crate) fn hand_over_run_dir(app: &AppDirs, user: Option<&AppUser>) -> Result<(), DeployError> {
    let run = app.run_dir();
    fs::create_dir_all(&run).map_err(|e| DeployError::io(&run, e))?;
    let Some(user) = user else {
        return Ok(());
    };
    let meta = fs::symlink_metadata(&run).map_err(|e| DeployError::io(&run, e))?;
    if meta.uid() != user.uid || meta.gid() != user.gid {
        // The first hand-over (an app deployed when apps ran as root): the
        // data the app kept becomes its user's, bale's own files excepted.
        let entries = fs::read_dir(&run).map_err(|e| DeployError::io(&run, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !BALES_IN_RUN.iter().any(|own| name == *own) {
                give_tree(&entry.path(), user)?;
            }
        }
        std::os::unix::fs::lchown(&run, Some(user.uid), Some(user.gid))
            .map_err(|e| DeployError::io(&run, e))?;
    }
    fs::set_permissions(&run, fs::Permissions::from_mode(0o750))
        .map_err(|e| DeployError::io(&run, e))?;
    let me = rustix::process::geteuid().as_raw();
    for dir in [app.logs_dir(), app.pids_dir()] {
        match fs::symlink_metadata(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir(&dir).map_err(|e| DeployError::io(&dir, e))?;
            }
            Err(e) => return Err(DeployError::io(&dir, e)),
            Ok(meta) if meta.is_dir() && meta.uid() == me => {}
            Ok(_) => return Err(not_bales(&dir, &user.name)),
        }
    }
    Ok(())
}

/// What in `run/` stays bale's: what it reads, signals or writes as root.
const BALES_IN_RUN: [&str; 3] = ["logs", "pids", "supervisor.json"];

/// Gives `path` and everything below it to `user`, never following a symlink.
fn give_tree(path: &Path, user: &AppUser) -> Result<(), DeployError> {
    let meta = fs::symlink_metadata(path).map_err(|e| DeployError::io(path, e))?;
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
        .map_err(|e| DeployError::io(path, e))?;
    if meta.is_dir() {
        let entries = fs::read_dir(path).map_err(|e| DeployError::io(path, e))?;
        for entry in entries.flatten() {
            give_tree(&entry.path(), user)?;
        }
    }
    Ok(())
}

/// The error for a path under `run/` that bale must own and does not.
fn not_bales(path: &Path, user: &str) -> DeployError {
    DeployError::AppUser {
        user: user.to_owned(),
        message: format!(
            "{} is not bale's own directory (the app may have replaced it); remove it and run the command again",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_app_name_maps_to_bale_dash_app() {
        assert_eq!(user_name("shop"), "bale-shop");
        assert_eq!(user_name("a.b_c-1"), "bale-a.b_c-1");
        let longest = "a".repeat(27);
        assert_eq!(user_name(&longest), format!("bale-{longest}"));
    }

    #[test]
    fn a_long_app_name_is_cut_to_32_characters_and_stays_distinct() {
        let one = user_name(&format!("{}-one", "x".repeat(30)));
        let two = user_name(&format!("{}-two", "x".repeat(30)));
        assert_eq!(one.len(), 32);
        assert_eq!(two.len(), 32);
        assert_ne!(one, two);
        assert!(one.starts_with("bale-xxxxxxxxxxxxxxxxxx-"));
    }
}
