//! The proxy that owns an app's public ports (docs/runtime.md, "Zero-downtime
//! deploys"): one detached process per app listens on each kit's public port
//! and forwards every connection to the private port the current version's
//! service listens on. A deploy or rollback talks to it through files in
//! `apps/<app>/proxy/`, which belongs to bale, not to the app's user:
//!
//! ```text
//! routes.json   the routing table, public -> private, with a generation; written by deploys
//! status.json   what the proxy has applied: generation, ports bound, bind errors,
//!               open connections per private port; written by the proxy
//! lock          held (flock) by the running proxy: at most one per app
//! pid           the detached proxy's pid, for uninstall
//! proxy.log     its output
//! ```
//!
//! The proxy polls `routes.json`, so a switch needs no signal and survives a
//! proxy restart; the listening sockets stay open across switches, so no
//! connection is refused while versions change.

mod kernel;
mod serve;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::deployment::AppDirs;
use crate::DeployError;

pub use serve::{proxy_entry, serve_proxy, PROXY_ARG};

/// How long a deploy waits for the proxy to apply a new routing table.
const APPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the proxy looks at its routing table, and a deploy at its status.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// One forwarded port: bale listens on `public`, the service on `private`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The kit's port, which clients use.
    pub public: u16,
    /// The port the current version's service listens on (its `$PORT`).
    pub private: u16,
}

/// The routing table of an app's proxy (`proxy/routes.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routes {
    /// Raised by one with each new table, so a deploy can tell when the proxy applied it.
    pub generation: u64,
    /// Every forwarded port.
    pub routes: Vec<Route>,
}

impl Routes {
    /// The private port behind `public`, if it is forwarded.
    pub fn private(&self, public: u16) -> Option<u16> {
        self.routes
            .iter()
            .find(|r| r.public == public)
            .map(|r| r.private)
    }
}

/// What the proxy has applied (`proxy/status.json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Status {
    /// The generation of the routing table in force.
    pub generation: u64,
    /// The public ports it listens on.
    pub listening: Vec<u16>,
    /// Public ports it could not listen on, with why.
    pub errors: BTreeMap<u16, String>,
    /// Open connections by private port.
    pub open: BTreeMap<u16, u64>,
    /// The routes the kernel forwards (nftables) rather than the proxy process.
    #[serde(default)]
    pub kernel: Vec<Route>,
    /// Whether a hold is taken ([`hold`]): the kernel forwards nothing and
    /// new connections wait in the proxy until it is let go.
    #[serde(default)]
    pub held: bool,
}

/// Who runs an app's proxy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProxyLaunch {
    /// bale starts this program again, detached, as the proxy when none runs.
    #[default]
    Detached,
    /// The caller runs it in its own process with [`serve_proxy`]; a deploy only waits for it.
    Caller,
}

/// `apps/<app>/proxy/`.
pub(crate) fn dir(app: &AppDirs) -> PathBuf {
    app.root().join("proxy")
}

fn routes_path(app: &AppDirs) -> PathBuf {
    dir(app).join("routes.json")
}

fn status_path(app: &AppDirs) -> PathBuf {
    dir(app).join("status.json")
}

fn lock_path(app: &AppDirs) -> PathBuf {
    dir(app).join("lock")
}

fn pid_path(app: &AppDirs) -> PathBuf {
    dir(app).join("pid")
}

fn hold_path(app: &AppDirs) -> PathBuf {
    dir(app).join("hold")
}

/// How long [`hold`] waits for the proxy to take every route back from the kernel.
const HOLD_TIMEOUT: Duration = Duration::from_secs(2);

/// A hold on an app's public ports: while it lives, every new connection
/// goes through the proxy process (the kernel forwards nothing) and waits
/// there, without reaching the service being stopped: one that reached it
/// could land in the backlog of a listening socket about to close, and be
/// reset. Once the hold is let go, waiting connections go to the service
/// when it listens again.
/// Taken before a service of a running version stops on purpose.
pub(crate) struct Hold {
    path: Option<PathBuf>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = fs::remove_file(path);
        }
    }
}

/// Whether a hold is taken by a process that still runs; a hold left by
/// one that died is removed.
fn is_held(app: &AppDirs) -> bool {
    let path = hold_path(app);
    let Ok(holder) = fs::read_to_string(&path) else {
        return false;
    };
    let alive = holder
        .trim()
        .parse::<u32>()
        .is_ok_and(|pid| PathBuf::from(format!("/proc/{pid}")).exists());
    if !alive {
        let _ = fs::remove_file(&path);
    }
    alive
}

/// Takes a hold ([`Hold`]) and waits (briefly) until the proxy has applied it.
pub(crate) fn hold(app: &AppDirs) -> Result<Hold, DeployError> {
    if !dir(app).is_dir() {
        return Ok(Hold { path: None });
    }
    let path = hold_path(app);
    // The holder's pid: a hold whose holder died (killed before it could let
    // go) is no hold, so the app's connections never wait on it.
    fs::write(&path, std::process::id().to_string()).map_err(|e| DeployError::io(&path, e))?;
    let hold = Hold { path: Some(path) };
    let deadline = Instant::now() + HOLD_TIMEOUT;
    while is_running(app)? && Instant::now() < deadline {
        if status(app).is_some_and(|s| s.held && s.kernel.is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(hold)
}

/// The app's routing table; `None` for an app deployed before bale owned public ports.
pub fn current_routes(app: &AppDirs) -> Result<Option<Routes>, DeployError> {
    let path = routes_path(app);
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| DeployError::io(&path, io::Error::other(e))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DeployError::io(&path, e)),
    }
}

/// What the proxy last reported, if it runs or ran.
fn status(app: &AppDirs) -> Option<Status> {
    fs::read(status_path(app))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

/// Opens the proxy's lock file, making its directory.
fn open_lock(app: &AppDirs) -> Result<File, DeployError> {
    let dir = dir(app);
    fs::create_dir_all(&dir).map_err(|e| DeployError::io(&dir, e))?;
    let path = lock_path(app);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| DeployError::io(&path, e))
}

/// Whether a proxy holds the app's lock.
fn is_running(app: &AppDirs) -> Result<bool, DeployError> {
    let lock = open_lock(app)?;
    match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        // Closing the file lets the lock go again.
        Ok(()) => Ok(false),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(true),
        Err(e) => Err(DeployError::io(lock_path(app), e.into())),
    }
}

/// Starts the app's proxy, detached from this process, unless one runs.
pub(crate) fn ensure_running(app: &AppDirs) -> Result<(), DeployError> {
    if is_running(app)? {
        return Ok(());
    }
    let spawn_error = |source: io::Error| DeployError::Spawn {
        what: format!("the proxy of app `{}`", app.name()),
        source,
    };
    let log_path = dir(app).join("proxy.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| DeployError::io(&log_path, e))?;
    let err = log.try_clone().map_err(|e| DeployError::io(&log_path, e))?;
    let program = std::env::current_exe().map_err(spawn_error)?;
    let mut command = Command::new(program);
    // Only bale's own path and the app's checked name reach the command line.
    command
        .arg(PROXY_ARG)
        .arg(app.name())
        .arg(app.root())
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    crate::services::in_new_session(&mut command);
    let mut child = command.spawn().map_err(spawn_error)?;
    // Reaped when it ends, so it never lingers as a zombie of a long-lived bale.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// Makes `routes` the app's routing table and waits until its proxy applied it:
/// new connections go to the new private ports from then on. Starts the proxy
/// first when `launch` says bale runs it. Returns the table now in force.
pub(crate) fn switch_to(
    app: &AppDirs,
    routes: Vec<Route>,
    launch: ProxyLaunch,
) -> Result<Routes, DeployError> {
    // Above what the proxy last applied too, so a status left from before cannot pass for it.
    let generation = current_routes(app)?
        .map_or(0, |r| r.generation)
        .max(status(app).map_or(0, |s| s.generation))
        + 1;
    let table = Routes { generation, routes };
    let dir = dir(app);
    // The lock file first: a proxy run by the caller waits for it and never makes it.
    drop(open_lock(app)?);
    let json = serde_json::to_vec_pretty(&table)
        .map_err(|e| DeployError::io(routes_path(app), io::Error::other(e)))?;
    bale_fs::write_atomic(&routes_path(app), &json)?;
    if launch == ProxyLaunch::Detached {
        ensure_running(app)?;
    }
    let deadline = Instant::now() + APPLY_TIMEOUT;
    loop {
        if let Some(status) = status(app).filter(|s| s.generation >= generation) {
            let failed: Vec<String> = table
                .routes
                .iter()
                .filter_map(|r| status.errors.get(&r.public).map(|e| (r.public, e)))
                .map(|(port, e)| format!("port {port}: {e}"))
                .collect();
            if failed.is_empty() {
                return Ok(table);
            }
            return Err(DeployError::Proxy {
                app: app.name().to_owned(),
                reason: format!(
                    "it cannot listen on {}; stop whatever holds the port, or change the kit's port",
                    failed.join(", ")
                ),
            });
        }
        if Instant::now() >= deadline {
            return Err(DeployError::Proxy {
                app: app.name().to_owned(),
                reason: format!(
                    "it did not apply the new routes within {}s; see {}",
                    APPLY_TIMEOUT.as_secs(),
                    dir.join("proxy.log").display()
                ),
            });
        }
        std::thread::sleep(POLL);
    }
}

/// Waits until no connection the proxy forwarded to one of `ports` is open,
/// or `timeout` passes. Returns whether they all finished.
pub(crate) fn drain(app: &AppDirs, ports: &[u16], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let open = status(app).is_some_and(|s| ports.iter().any(|p| s.open.contains_key(p)));
        if !open {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Takes the app's routing table away, so its proxy lets the public ports go
/// and ends, and waits (a few seconds at most) until it has.
pub(crate) fn stop(app: &AppDirs) -> Result<(), DeployError> {
    let routes = routes_path(app);
    match fs::remove_file(&routes) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(DeployError::io(&routes, e)),
        _ => {}
    }
    if !dir(app).is_dir() || !is_running(app)? {
        return Ok(());
    }
    let pid = fs::read_to_string(pid_path(app))
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok());
    // A proxy run by the caller (no pid file, or this very process) ends its
    // serving by itself when the table is gone; a detached one is told at once.
    let detached = pid.filter(|&p| {
        u32::try_from(p).ok() != Some(std::process::id())
            // The pid is still a proxy's, not reused by another process.
            && fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|cmdline| cmdline.split(|&b| b == 0).any(|arg| arg == PROXY_ARG.as_bytes()))
    });
    if let Some(pid) = detached {
        if let Some(pid) = rustix::process::Pid::from_raw(pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_running(app)? && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    // A proxy that ended without removing its rules (killed) leaves them to us.
    if !is_running(app)? {
        if let Some(kernel) = kernel::Kernel::for_app(app.root()) {
            let _ = kernel.clear();
        }
    }
    Ok(())
}

/// The routes for `publics`, each to a free private port of this machine.
pub(crate) fn fresh_routes(publics: &[u16]) -> Result<Vec<Route>, DeployError> {
    let mut routes: Vec<Route> = Vec::new();
    for &public in publics {
        if routes.iter().any(|r| r.public == public) {
            continue;
        }
        routes.push(Route {
            public,
            private: free_port(&routes)?,
        });
    }
    Ok(routes)
}

/// A port nothing listens on now, other than the ones already `taken`: the
/// kernel's pick of an ephemeral port, let go at once for the service to take.
fn free_port(taken: &[Route]) -> Result<u16, DeployError> {
    for _ in 0..16 {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| DeployError::Spawn {
                what: "a private port (binding 127.0.0.1:0)".into(),
                source: e,
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| DeployError::Spawn {
                what: "a private port".into(),
                source: e,
            })?
            .port();
        if !taken.iter().any(|r| r.private == port || r.public == port) {
            return Ok(port);
        }
    }
    Err(DeployError::Spawn {
        what: "a private port".into(),
        source: io::Error::other("the kernel kept handing out ports already taken"),
    })
}

/// The port a service whose kit gives `public` listens on (its `$PORT`):
/// the private port behind it in `routes`, or `public` itself for an app
/// without routes (deployed before bale owned public ports). The one place
/// that decides a service's port; `PORT_<NAME>` of a proxied port must use it too.
pub fn service_port(routes: Option<&Routes>, public: u16) -> u16 {
    routes.and_then(|r| r.private(public)).unwrap_or(public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_routes_give_each_public_port_one_distinct_private_port() {
        let routes = fresh_routes(&[8080, 8081, 8080]).expect("routes");
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].public, 8080);
        assert_ne!(routes[0].private, routes[1].private);
        assert!(routes.iter().all(|r| r.private != r.public));
    }

    #[test]
    fn a_service_without_routes_keeps_its_kits_port() {
        let table = Routes {
            generation: 3,
            routes: vec![Route {
                public: 8080,
                private: 40001,
            }],
        };
        assert_eq!(service_port(Some(&table), 8080), 40001);
        assert_eq!(service_port(Some(&table), 9090), 9090);
        assert_eq!(service_port(None, 8080), 8080);
    }

    #[test]
    fn a_hold_counts_while_its_holder_runs_and_a_dead_holders_hold_is_removed() {
        let root = tempfile::tempdir().expect("tempdir");
        let app = AppDirs::at("web", root.path().join("web"));
        fs::create_dir_all(dir(&app)).expect("proxy dir");
        assert!(!is_held(&app));
        {
            let _hold = hold(&app).expect("hold");
            assert!(is_held(&app), "the test process holds it");
        }
        assert!(!hold_path(&app).exists(), "letting go removes the hold");

        // A holder that exited without letting go.
        let mut child = Command::new("true").spawn().expect("true runs");
        let pid = child.id();
        child.wait().expect("true exits");
        fs::write(hold_path(&app), pid.to_string()).expect("hold file");
        assert!(!is_held(&app));
        assert!(!hold_path(&app).exists(), "a dead holder's hold is removed");
    }
}
