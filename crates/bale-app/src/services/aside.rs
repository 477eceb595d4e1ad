//! Services set aside while a new version starts beside them (an
//! overlapping deploy or rollback): their pid files move from `run/pids/`
//! to a batch under `run/pids/old/<n>/`, so the new version's services start
//! under the same names while the old ones keep serving until the proxy has
//! switched. A batch left by a deploy that crashed is stopped with the next
//! one.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::pid_files::{self, STACK_MARK};
use super::process;
use crate::deployment::AppDirs;
use crate::DeployError;

/// `run/pids/old/`.
fn aside_dir(app: &AppDirs) -> PathBuf {
    app.pids_dir().join("old")
}

/// The batches set aside, oldest first.
fn batches(app: &AppDirs) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(aside_dir(app)) else {
        return Vec::new();
    };
    let mut numbered: Vec<(u64, PathBuf)> = entries
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path())))
        .collect();
    numbered.sort();
    numbered.into_iter().map(|(_, path)| path).collect()
}

/// Moves every running service's pid file into a new batch. Returns the services set aside.
pub fn set_aside(app: &AppDirs) -> Result<Vec<String>, DeployError> {
    let next = batches(app)
        .last()
        .and_then(|b| b.file_name()?.to_str()?.parse::<u64>().ok())
        .map_or(1, |n| n + 1);
    let batch = aside_dir(app).join(next.to_string());
    fs::create_dir_all(&batch).map_err(|e| DeployError::io(&batch, e))?;
    let mut moved = Vec::new();
    for name in pid_files::with_pid_files(app) {
        let from = pid_files::pid_path(app, &name);
        let to = batch.join(format!("{name}.pid"));
        fs::rename(&from, &to).map_err(|e| DeployError::io(&from, e))?;
        moved.push(name);
    }
    bale_fs::sync_dir(&app.pids_dir())?;
    Ok(moved)
}

/// Moves the newest batch's pid files back to `run/pids/`, once the services
/// that replaced them are stopped: the old version is the running one again.
pub fn put_back(app: &AppDirs) -> Result<(), DeployError> {
    let Some(batch) = batches(app).pop() else {
        return Ok(());
    };
    for (name, path) in pid_files_in(&batch) {
        let to = pid_files::pid_path(app, &name);
        fs::rename(&path, &to).map_err(|e| DeployError::io(&path, e))?;
    }
    remove_dir(&batch)
}

/// Stops every service set aside (SIGTERM, SIGKILL after `timeout`). Returns the services stopped.
pub fn stop_set_aside(app: &AppDirs, timeout: Duration) -> Result<Vec<String>, DeployError> {
    let mut stopped = Vec::new();
    for batch in batches(app) {
        for (name, path) in pid_files_in(&batch) {
            let text = fs::read_to_string(&path).unwrap_or_default();
            let mut lines = text.lines();
            let pid = lines.next().and_then(|l| l.trim().parse::<i32>().ok());
            let in_stack = lines.next().is_some_and(|l| l.trim() == STACK_MARK);
            if let Some(pid) = pid {
                if process::group_alive(pid) && process::terminate(pid, in_stack, timeout) {
                    stopped.push(name);
                }
            }
            fs::remove_file(&path).map_err(|e| DeployError::io(&path, e))?;
        }
        remove_dir(&batch)?;
    }
    Ok(stopped)
}

/// The pid files of one batch, by service name.
fn pid_files_in(batch: &Path) -> Vec<(String, PathBuf)> {
    let Ok(entries) = fs::read_dir(batch) else {
        return Vec::new();
    };
    let mut files: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".pid")?.to_owned();
            Some((name, e.path()))
        })
        .collect();
    files.sort();
    files
}

fn remove_dir(dir: &Path) -> Result<(), DeployError> {
    match fs::remove_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(DeployError::io(dir, e)),
        _ => Ok(()),
    }
}
