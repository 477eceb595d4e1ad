//! The supervisor: keeps every app's services running, restarting a crashed
//! one after a delay that doubles with each quick failure (capped) and
//! starts over once it has stayed up a while. What it did is kept in
//! `run/supervisor.json` of each app, for `bale apps` and `bale service`.
//! A service stopped by hand (`bale service stop`) stays down.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bale_home::Home;
use serde::{Deserialize, Serialize};

use crate::deploy::{context, read_manifest, Progress};
use crate::deployment::{self, AppDirs};
use crate::lock::{AppLock, Wait};
use crate::runner::Isolation;
use crate::services::{self, ServiceState};
use crate::DeployError;

/// How many of the latest restart delays a record keeps.
const KEPT_DELAYS: usize = 20;

/// How the supervisor paces restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SuperviseOptions {
    /// The delay before the first restart after a crash.
    pub first_delay: Duration,
    /// The longest delay between restarts.
    pub max_delay: Duration,
    /// How long a service must stay up for its delay to start over.
    pub reset_after: Duration,
    /// How often the services are looked at.
    pub interval: Duration,
}

impl Default for SuperviseOptions {
    fn default() -> Self {
        SuperviseOptions {
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            reset_after: Duration::from_secs(60),
            interval: Duration::from_millis(500),
        }
    }
}

/// What the supervisor knows of one service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervised {
    /// How many times the supervisor started it again.
    pub restarts: u64,
    /// Failures in a row, each without staying up for `reset_after`.
    pub failures: u32,
    /// The delays before the latest restarts, in milliseconds, oldest first.
    pub delays_ms: Vec<u64>,
    /// When it was last started by the supervisor (ms since the epoch).
    pub started_ms: Option<u64>,
    /// When the next restart is due, while one is waiting (ms since the epoch).
    pub next_start_ms: Option<u64>,
}

/// The supervisor's record of one app, by service.
pub type Supervision = BTreeMap<String, Supervised>;

/// The supervisor's record file of an app.
fn record_path(app: &AppDirs) -> PathBuf {
    app.run_dir().join("supervisor.json")
}

/// The supervisor's record of `app` (empty when it has none).
pub fn supervision(app: &AppDirs) -> Supervision {
    fs::read(record_path(app))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save(app: &AppDirs, record: &Supervision) -> Result<(), DeployError> {
    let path = record_path(app);
    let json = serde_json::to_vec_pretty(record)
        .map_err(|e| DeployError::io(&path, std::io::Error::other(e)))?;
    Ok(bale_fs::write_atomic(&path, &json)?)
}

/// The delay before restart number `failures` (from 1): doubling, capped.
pub fn backoff(options: &SuperviseOptions, failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1));
    options
        .first_delay
        .saturating_mul(factor)
        .min(options.max_delay)
}

/// Keeps every app's services running until `shutdown` is set; then returns,
/// leaving the services running. Blocks: run it on a thread of its own.
pub fn supervise(
    home: &Home,
    isolation: Isolation,
    options: &SuperviseOptions,
    shutdown: &AtomicBool,
    progress: Progress<'_>,
) -> Result<(), DeployError> {
    while !shutdown.load(Ordering::SeqCst) {
        for name in app_names(home)? {
            let Ok(app) = AppDirs::new(home, &name) else {
                continue;
            };
            if let Err(e) = watch_app(home, isolation, options, &app, progress) {
                // One broken app must not stop the others being kept up.
                progress("Failed", &format!("{name}: {e}"));
            }
        }
        let mut slept = Duration::ZERO;
        while slept < options.interval && !shutdown.load(Ordering::SeqCst) {
            let step = Duration::from_millis(50).min(options.interval - slept);
            std::thread::sleep(step);
            slept += step;
        }
    }
    Ok(())
}

fn app_names(home: &Home) -> Result<Vec<String>, DeployError> {
    let dir = home.apps_dir();
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DeployError::io(&dir, e)),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

/// One look at one app: restarts what is due, schedules what has just died.
fn watch_app(
    home: &Home,
    isolation: Isolation,
    options: &SuperviseOptions,
    app: &AppDirs,
    progress: Progress<'_>,
) -> Result<(), DeployError> {
    // A deploy, rollback or service command under way owns the services.
    let _lock = match AppLock::acquire(app, Wait::No) {
        Ok(lock) => lock,
        Err(DeployError::Locked { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(current) = deployment::current(app)? else {
        return Ok(());
    };
    let manifest = read_manifest(&current.package_dir)?;
    // The proxy owns the public ports (after a reboot, say, it runs again first).
    let routes = crate::proxy::current_routes(app)?;
    if routes.is_some() {
        crate::proxy::ensure_running(app)?;
    }
    let list = crate::cutover::routed(
        services::services_of(&manifest, &current.variables),
        routes.as_ref(),
    );
    let mut record = supervision(app);
    let before = record.clone();
    let now = bale_fs::now_ms();
    let reset_ms = options.reset_after.as_millis() as u64;
    let mut due = Vec::new();
    for service in &list {
        let entry = record.entry(service.name.clone()).or_default();
        if services::is_down(app, &service.name) {
            entry.next_start_ms = None;
            continue;
        }
        let stayed_up = entry
            .started_ms
            .is_none_or(|s| now.saturating_sub(s) >= reset_ms);
        match services::state(app, &service.name) {
            ServiceState::Running { .. } => {
                if stayed_up {
                    entry.failures = 0;
                }
            }
            ServiceState::Stopped => {
                if entry.next_start_ms.is_none() {
                    entry.failures = if stayed_up {
                        1
                    } else {
                        entry.failures.saturating_add(1)
                    };
                    let delay = backoff(options, entry.failures);
                    entry.delays_ms.push(delay.as_millis() as u64);
                    let extra = entry.delays_ms.len().saturating_sub(KEPT_DELAYS);
                    entry.delays_ms.drain(..extra);
                    entry.next_start_ms = Some(now + delay.as_millis() as u64);
                }
                if entry.next_start_ms.is_some_and(|t| now >= t) {
                    due.push(service.clone());
                }
            }
        }
    }
    record.retain(|name, _| list.iter().any(|s| &s.name == name));
    if !due.is_empty() {
        let ctx = context(home, isolation, app, &current, &manifest, progress)?;
        for service in due {
            progress("Restarting", &format!("{} of {}", service.name, app.name()));
            let entry = record.entry(service.name.clone()).or_default();
            entry.next_start_ms = None;
            entry.started_ms = Some(bale_fs::now_ms());
            entry.restarts += 1;
            if let Err(e) = services::start(isolation, &ctx, app, &service) {
                progress(
                    "Failed",
                    &format!("{} of {}: {e}", service.name, app.name()),
                );
            }
        }
    }
    if record != before {
        save(app, &record)?;
    }
    Ok(())
}
