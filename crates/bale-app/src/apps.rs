//! Deployed apps after the deploy: their state, their services, their
//! one-off commands, their logs, and uninstalling them.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use bale_home::Home;
use bale_manifest::{Manifest, RunLimits};
use serde::Serialize;

use crate::deploy::{context, read_manifest, start_services, Progress};
use crate::deployment::{self, AppDirs, Deployment};
use crate::hooks::run_hook_step;
use crate::lock::{AppLock, Wait};
use crate::run_records::{self, ExitRecord, LimitsRecord};
use crate::runner::{Isolation, Role};
use crate::services::{self, ServiceState, STOP_TIMEOUT};
use crate::DeployError;

/// One app as `bale apps` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppStatus {
    /// The app's name.
    pub name: String,
    /// The current deployment, if any.
    pub current: Option<DeploymentSummary>,
    /// Each service of the current deployment and whether it runs.
    pub services: Vec<ServiceStatus>,
    /// Every kept deployment, oldest first.
    pub deployments: Vec<DeploymentSummary>,
}

/// A deployment in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentSummary {
    /// Its id.
    pub id: String,
    /// Its package.
    pub coordinate: String,
    /// Its directory name under `deployments/`.
    pub name: String,
    /// Seconds since the epoch when it was made.
    pub created: u64,
}

/// A service in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceStatus {
    /// Its name.
    pub name: String,
    /// `running`, `restarting` (the supervisor waits to start it again) or `stopped`.
    pub state: &'static str,
    /// Its process group id when running.
    pub pid: Option<i32>,
    /// How many times the supervisor started it again.
    pub restarts: u64,
    /// The supervisor's delays before its latest restarts, in milliseconds, oldest first.
    pub backoff_ms: Vec<u64>,
    /// `[run] limits` and whether they hold; `None` when the package sets none.
    pub limits: Option<ServiceLimits>,
    /// How its process last ended, when bale's keeper saw it end.
    pub last_exit: Option<LastExit>,
}

/// A service's `[run] limits` in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceLimits {
    /// The memory limit as the manifest gives it (`"512M"`).
    pub memory: Option<String>,
    /// The CPU share as the manifest gives it (`"1.5"`).
    pub cpu: Option<String>,
    /// The task limit.
    pub tasks: Option<u64>,
    /// Whether a cgroup enforces them for the service's latest start.
    pub applied: bool,
    /// Why not, when they are not.
    pub reason: Option<String>,
}

/// How a service's process last ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastExit {
    /// Its exit code; 128 + N when signal N ended it.
    pub status: i32,
    /// `memory` when the memory limit killed it (OOM), `tasks` when it ran into the task limit.
    pub limit: Option<String>,
    /// The end in words, e.g. "killed by the memory limit (OOM)".
    pub reason: String,
    /// When it ended (ms since the epoch).
    pub at_ms: u64,
}

fn summary(d: &Deployment) -> DeploymentSummary {
    DeploymentSummary {
        id: d.id.clone(),
        coordinate: d.coordinate.to_string(),
        name: d.name.clone(),
        created: d.created,
    }
}

/// Every app under `apps/`, by name.
pub fn list_apps(home: &Home) -> Result<Vec<AppStatus>, DeployError> {
    let dir = home.apps_dir();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DeployError::io(&dir, e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
        .iter()
        .filter_map(|n| AppDirs::new(home, n).ok())
        // A directory with only a lock is a first deploy under way, not an app yet.
        .filter(|app| app.deployments().is_dir() || app.current_link().symlink_metadata().is_ok())
        .map(|app| app_status(&app))
        .collect()
}

/// The state of one app.
pub fn app_status(app: &AppDirs) -> Result<AppStatus, DeployError> {
    let current = deployment::current(app)?;
    let manifest = match &current {
        Some(d) => Some(read_manifest(&d.package_dir)?),
        None => None,
    };
    let names: Vec<String> = manifest
        .iter()
        .flat_map(|m| m.services().keys().cloned())
        .collect();
    let limits = manifest
        .as_ref()
        .map(|m| m.run.limits.clone())
        .unwrap_or_default();
    let supervision = crate::supervise::supervision(app);
    let services = names
        .into_iter()
        .map(|name| {
            let record = supervision.get(&name).cloned().unwrap_or_default();
            let (state, pid) = match services::state(app, &name) {
                ServiceState::Running { pid } => ("running", Some(pid)),
                ServiceState::Stopped if record.next_start_ms.is_some() => ("restarting", None),
                ServiceState::Stopped => ("stopped", None),
            };
            ServiceStatus {
                limits: service_limits(app, &name, &limits),
                last_exit: last_exit(app, &name),
                name,
                state,
                pid,
                restarts: record.restarts,
                backoff_ms: record.delays_ms,
            }
        })
        .collect();
    Ok(AppStatus {
        name: app.name().to_owned(),
        current: current.as_ref().map(summary),
        services,
        deployments: deployment::list(app)?.iter().map(summary).collect(),
    })
}

/// A service's limits and whether its keeper could apply them.
fn service_limits(app: &AppDirs, service: &str, limits: &RunLimits) -> Option<ServiceLimits> {
    if !limits.any() {
        return None;
    }
    let record: Option<LimitsRecord> =
        run_records::read(&run_records::limits_path(&app.pids_dir(), service));
    let (applied, reason) = match record {
        Some(r) => (r.applied, r.reason),
        None => (
            false,
            Some("the service has not started with them yet".to_owned()),
        ),
    };
    Some(ServiceLimits {
        memory: limits.memory.as_ref().map(|m| m.text().to_owned()),
        cpu: limits.cpu_text(),
        tasks: limits.tasks,
        applied,
        reason,
    })
}

/// How a service last ended, from its keeper's record.
fn last_exit(app: &AppDirs, service: &str) -> Option<LastExit> {
    let record: ExitRecord = run_records::read(&run_records::exit_path(&app.pids_dir(), service))?;
    Some(LastExit {
        reason: record.describe(),
        status: record.status,
        limit: record.limit,
        at_ms: record.at_ms,
    })
}

/// What `bale service` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceAction {
    /// Start (and wait for health).
    Start,
    /// Stop.
    Stop,
    /// Stop, then start.
    Restart,
}

/// Starts, stops or restarts the services of the current deployment (or one of them).
/// Returns the services acted on.
pub fn control(
    home: &Home,
    name: &str,
    action: ServiceAction,
    only: Option<&str>,
    isolation: Isolation,
    progress: Progress<'_>,
) -> Result<Vec<String>, DeployError> {
    let app = AppDirs::new(home, name)?;
    let _lock = AppLock::acquire(&app, Wait::No)?;
    let (current, mut manifest) = current_deployment(&app, name)?;
    if let Some(service) = only {
        check_service(name, &manifest, service)?;
        manifest.run.services.retain(|k, _| k == service);
    }
    let selected: Vec<String> = manifest.services().keys().cloned().collect();
    if matches!(action, ServiceAction::Stop | ServiceAction::Restart) {
        // Connections arriving meanwhile wait in the proxy for the service to be back.
        let _hold = crate::proxy::hold(&app)?;
        for service in &selected {
            progress("Stopping", service);
            if action == ServiceAction::Stop {
                services::mark_down(&app, service)?;
            }
            services::stop(&app, service, STOP_TIMEOUT)?;
        }
    }
    if matches!(action, ServiceAction::Start | ServiceAction::Restart) {
        let ctx = context(home, isolation, &app, &current, &manifest, progress)?;
        let routes = crate::proxy::current_routes(&app)?;
        start_services(isolation, &ctx, &app, &manifest, routes.as_ref(), progress)?;
    }
    Ok(selected)
}

/// A `[run.commands]` entry of the current deployment, ready to run with `args`
/// and the app's environment; the caller chooses its input and output.
pub fn command(
    home: &Home,
    name: &str,
    command: &str,
    args: &[String],
    isolation: Isolation,
) -> Result<Command, DeployError> {
    let app = AppDirs::new(home, name)?;
    let (current, manifest) = current_deployment(&app, name)?;
    let Some(script) = manifest.run.commands.get(command) else {
        return Err(DeployError::UnknownCommand {
            app: name.to_owned(),
            command: command.to_owned(),
            known: manifest.run.commands.keys().cloned().collect(),
        });
    };
    // The arguments reach the entry as "$@", each one word whatever it holds.
    let script = format!("{script} \"$@\"");
    let ctx = context(home, isolation, &app, &current, &manifest, &|_, _| {})?;
    ctx.shell(isolation, &script, args, Role::Command, &[])
}

/// The log files of the current deployment's services (or of one of them), by service.
pub fn log_files(
    home: &Home,
    name: &str,
    only: Option<&str>,
) -> Result<Vec<(String, PathBuf)>, DeployError> {
    let app = AppDirs::new(home, name)?;
    let (_, manifest) = current_deployment(&app, name)?;
    if let Some(service) = only {
        check_service(name, &manifest, service)?;
    }
    let known: Vec<String> = manifest.services().keys().cloned().collect();
    Ok(known
        .into_iter()
        .filter(|k| only.is_none_or(|o| o == k))
        .map(|k| {
            let path = services::log_path(&app, &k);
            (k, path)
        })
        .collect())
}

/// Removes an app: `pre-deinstall`, stop its services, move its directory away
/// (it disappears whole), `post-deinstall`, delete it. Installed packages stay.
pub fn uninstall(
    home: &Home,
    name: &str,
    wait: Wait,
    isolation: Isolation,
    progress: Progress<'_>,
) -> Result<(), DeployError> {
    let app = AppDirs::new(home, name)?;
    if !app.exists() {
        return Err(DeployError::NotDeployed(name.to_owned()));
    }
    let _lock = AppLock::acquire(&app, wait)?;
    let current = deployment::current(&app)?;
    let manifest = match &current {
        Some(d) => Some(read_manifest(&d.package_dir)?),
        None => None,
    };
    let ctx = match (&current, &manifest) {
        (Some(d), Some(m)) => Some(context(home, isolation, &app, d, m, progress)?),
        _ => None,
    };
    if let (Some(ctx), Some(m)) = (&ctx, &manifest) {
        run_hook_step(isolation, ctx, &app, m, "pre-deinstall", &[], progress)?;
    }
    progress("Stopping", "the services");
    services::stop_all(&app, STOP_TIMEOUT)?;
    services::stop_set_aside(&app, STOP_TIMEOUT)?;
    crate::proxy::stop(&app)?;
    let tmp = home.tmp_dir();
    fs::create_dir_all(&tmp).map_err(|e| DeployError::io(&tmp, e))?;
    let away = tmp.join(format!(".uninstall-{name}-{}", std::process::id()));
    bale_fs::remove_tree(&away)?;
    fs::rename(app.root(), &away).map_err(|e| DeployError::io(app.root(), e))?;
    bale_fs::sync_dir(&home.apps_dir())?;
    let mut result = Ok(());
    if let (Some(mut ctx), Some(m)) = (ctx, &manifest) {
        // The runtime directory moved with the app; the hook still sees its data.
        ctx.run_dir = away.join("run");
        let hook_app = AppDirs::at(name, away.clone());
        result = run_hook_step(
            isolation,
            &ctx,
            &hook_app,
            m,
            "post-deinstall",
            &[],
            progress,
        );
    }
    bale_fs::remove_tree(&away)?;
    result
}

/// The app's current deployment and its package's manifest.
fn current_deployment(app: &AppDirs, name: &str) -> Result<(Deployment, Manifest), DeployError> {
    let current =
        deployment::current(app)?.ok_or_else(|| DeployError::NotDeployed(name.to_owned()))?;
    let manifest = read_manifest(&current.package_dir)?;
    Ok((current, manifest))
}

/// Refuses a service name the manifest does not run, listing the ones it does.
fn check_service(name: &str, manifest: &Manifest, service: &str) -> Result<(), DeployError> {
    if manifest.services().contains_key(service) {
        return Ok(());
    }
    Err(DeployError::UnknownService {
        app: name.to_owned(),
        service: service.to_owned(),
        known: manifest.services().keys().cloned().collect(),
    })
}
