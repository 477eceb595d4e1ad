//! A service's files under `run/pids/`: `NAME.pid` holds the session
//! leader's pid (the group's id) and, on a second line, `stack` for a
//! sandbox keeper; `NAME.down` marks a service stopped by hand.

use std::fs;
use std::io;
use std::path::PathBuf;

use crate::deployment::AppDirs;
use crate::runner::Isolation;
use crate::DeployError;

/// The pid file's mark of a service in its stack.
pub(super) const STACK_MARK: &str = "stack";

pub(super) fn pid_path(app: &AppDirs, service: &str) -> PathBuf {
    app.pids_dir().join(format!("{service}.pid"))
}

/// The mark of a service stopped by hand, which the supervisor leaves down.
fn down_path(app: &AppDirs, service: &str) -> PathBuf {
    app.pids_dir().join(format!("{service}.down"))
}

/// Whether `service` was stopped by hand and should stay down.
pub fn is_down(app: &AppDirs, service: &str) -> bool {
    down_path(app, service).exists()
}

/// Marks `service` as stopped by hand: the supervisor leaves it down until it is started.
pub fn mark_down(app: &AppDirs, service: &str) -> Result<(), DeployError> {
    let path = down_path(app, service);
    fs::create_dir_all(app.pids_dir()).map_err(|e| DeployError::io(app.pids_dir(), e))?;
    fs::write(&path, b"").map_err(|e| DeployError::io(&path, e))
}

/// Takes away the mark of a service stopped by hand.
pub(super) fn clear_down(app: &AppDirs, service: &str) -> Result<(), DeployError> {
    let down = down_path(app, service);
    match fs::remove_file(&down) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(DeployError::io(&down, e)),
        _ => Ok(()),
    }
}

/// Records `pid` as the service's group, whole or not at all.
pub(super) fn write_pid(
    app: &AppDirs,
    service: &str,
    pid: i32,
    isolation: Isolation,
) -> Result<(), DeployError> {
    let pid_file = pid_path(app, service);
    let text = match isolation {
        Isolation::None => format!("{pid}\n"),
        Isolation::Stack => format!("{pid}\n{STACK_MARK}\n"),
    };
    bale_fs::write_atomic(&pid_file, text.as_bytes())?;
    Ok(())
}

/// The service's group, from its pid file. A pid file bale did not write
/// (one the app's user put in its place) names nothing: bale signals only
/// groups it started.
pub(super) fn read_pid(app: &AppDirs, service: &str) -> Option<i32> {
    use std::os::unix::fs::MetadataExt;
    let path = pid_path(app, service);
    let meta = fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.uid() != rustix::process::geteuid().as_raw() {
        return None;
    }
    fs::read_to_string(path)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Whether the pid file of `service` names a sandbox keeper.
pub(super) fn in_stack(app: &AppDirs, service: &str) -> bool {
    fs::read_to_string(pid_path(app, service))
        .is_ok_and(|text| text.lines().nth(1).is_some_and(|l| l.trim() == STACK_MARK))
}

/// Every service that has a pid file, in name order.
pub(super) fn with_pid_files(app: &AppDirs) -> Vec<String> {
    let Ok(entries) = fs::read_dir(app.pids_dir()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".pid")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}
