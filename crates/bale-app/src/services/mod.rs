//! An app's long-lived services: start, stop, state and health.
//!
//! As in the generated `start.sh`, each service runs in its own session, so
//! its whole process tree is signalled as one group; its pid file under
//! `run/pids/` holds the session leader's pid, which is also the group's id.
//! Stopping sends SIGTERM to the group, then SIGKILL after the timeout.
//!
//! A service in its stack is a keeper (see `runner`) whose sandbox runs the
//! service in a session of its own. Stopping it sends SIGTERM to the
//! sandbox's processes, not to the keeper's group: killing the keeper or
//! bubblewrap first would end the sandbox with SIGKILL at once. When the
//! service has gone the sandbox ends and the keeper exits; SIGKILL to the
//! keeper's group after the timeout takes the whole sandbox down with it.
//! The pid file's second line, `stack`, marks such a service.

mod aside;
mod health;
mod log;
mod log_follow;
mod log_pump;
mod pid_files;
mod process;

use std::fs;
use std::io;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use bale_manifest::{Health, Manifest};

use crate::deployment::AppDirs;
use crate::runner::{Isolation, Role, RunContext};
use crate::DeployError;

pub use aside::{put_back, set_aside, stop_set_aside};
pub use health::wait_healthy;
pub use log::{
    LogRotation, RotatingLog, DEFAULT_KEEP as DEFAULT_LOG_KEEP,
    DEFAULT_MAX_BYTES as DEFAULT_LOG_MAX_BYTES,
};
pub use log_follow::LogFollower;
pub use log_pump::{log_pump_entry, LOG_PUMP_ARG};
pub use pid_files::{is_down, mark_down};
pub(crate) use process::in_new_session;

/// How long a service may take to exit after SIGTERM before it gets SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How many log lines a failure shows.
const LOG_TAIL_LINES: usize = 20;

/// One service of a package, with what its kit says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Its name in `[run.services]`.
    pub name: String,
    /// The shell command that runs it.
    pub command: String,
    /// Its `$PORT`.
    pub port: Option<u16>,
    /// Its kit's health check.
    pub health: Option<Health>,
}

/// Whether a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceState {
    /// Its process group is alive.
    Running {
        /// The group's id.
        pid: i32,
    },
    /// It is not running.
    Stopped,
}

/// The services of `manifest`, in name order; `PORT` among `variables` overrides the kits' ports.
pub fn services_of(
    manifest: &Manifest,
    variables: &std::collections::BTreeMap<String, String>,
) -> Vec<Service> {
    let port_override = variables.get("PORT").and_then(|p| p.parse::<u16>().ok());
    manifest
        .services()
        .iter()
        .map(|(name, command)| {
            let kit = manifest.kit_for_service(name).map(|(_, kit)| kit);
            Service {
                name: name.clone(),
                command: command.clone(),
                port: port_override.or_else(|| manifest.port_for_service(name)),
                health: kit.and_then(|k| k.health.clone()),
            }
        })
        .collect()
}

/// The log file of a service.
pub fn log_path(app: &AppDirs, service: &str) -> PathBuf {
    app.logs_dir().join(format!("{service}.log"))
}

/// Starts `service` in its own session, its output going to its rotating log
/// (through a log pump, see `log_pump`). Returns its pid.
pub fn start(
    isolation: Isolation,
    ctx: &RunContext,
    app: &AppDirs,
    service: &Service,
) -> Result<i32, DeployError> {
    if let ServiceState::Running { pid } = state(app, &service.name) {
        return Ok(pid);
    }
    for dir in [app.logs_dir(), app.pids_dir()] {
        fs::create_dir_all(&dir).map_err(|e| DeployError::io(&dir, e))?;
    }
    pid_files::clear_down(app, &service.name)?;
    let log = log_path(app, &service.name);
    let rotation = match app.config_path() {
        Some(config) => LogRotation::from_config(config)?,
        None => LogRotation::default(),
    };
    let role = Role::Service {
        name: &service.name,
        port: service.port,
    };
    let mut command = ctx.shell(isolation, &service.command, &[], role, &[])?;
    let output = log_pump::service_output(&log, rotation)?;
    command
        .stdin(Stdio::null())
        .stdout(output.stdout)
        .stderr(output.stderr);
    process::in_new_session(&mut command);
    let child = command.spawn().map_err(|source| DeployError::Spawn {
        what: format!("service `{}`", service.name),
        source,
    })?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    pid_files::write_pid(app, &service.name, pid, isolation)?;
    reap(child);
    Ok(pid)
}

/// Collects the service's exit status when it ends, so it never lingers as a zombie
/// of a long-lived bale process; a bale that exits first hands it to init.
fn reap(mut child: Child) {
    std::thread::spawn(move || {
        let _ = child.wait();
    });
}

/// Whether `service` runs, from its pid file.
pub fn state(app: &AppDirs, service: &str) -> ServiceState {
    match pid_files::read_pid(app, service) {
        Some(pid) if process::group_alive(pid) => ServiceState::Running { pid },
        _ => ServiceState::Stopped,
    }
}

/// Stops `service`: SIGTERM to its group, SIGKILL after `timeout`. Returns whether it ran.
pub fn stop(app: &AppDirs, service: &str, timeout: Duration) -> Result<bool, DeployError> {
    let pid_file = pid_files::pid_path(app, service);
    let ran = match pid_files::read_pid(app, service) {
        Some(pid) => process::terminate(pid, pid_files::in_stack(app, service), timeout),
        None => false,
    };
    match fs::remove_file(&pid_file) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(DeployError::io(&pid_file, e)),
        _ => Ok(ran),
    }
}

/// Stops every service that has a pid file, whatever deployment started it.
pub fn stop_all(app: &AppDirs, timeout: Duration) -> Result<Vec<String>, DeployError> {
    let mut stopped = Vec::new();
    for name in pid_files::with_pid_files(app) {
        if stop(app, &name, timeout)? {
            stopped.push(name);
        }
    }
    Ok(stopped)
}

/// The last lines of a service's log.
pub fn log_tail(app: &AppDirs, service: &str) -> String {
    let text = fs::read(log_path(app, service)).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines[start..].join("\n")
}
