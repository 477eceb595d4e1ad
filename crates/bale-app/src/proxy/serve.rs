//! The proxy itself: listens on every public port of the routing table and
//! forwards each connection to the private port in force when it arrives.
//! A connection to a private port nothing answers on (the service is
//! restarting, or a `stop-first` deploy is between versions) is retried with
//! the table in force at each attempt, for up to [`WAIT_FOR_SERVICE`], before
//! it is closed. While a hold is taken (a service is being stopped on
//! purpose) new connections wait without trying the service at all.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::OsStr;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::kernel::{self, Kernel, Redirect};
use super::{current_routes, pid_path, status_path, Route, Routes, Status, POLL};
use crate::deployment::AppDirs;
use crate::DeployError;

/// The first argument that makes a program started by bale an app's proxy.
pub const PROXY_ARG: &str = "__bale-proxy";
/// How long a connection waits for a service that does not answer yet.
const WAIT_FOR_SERVICE: Duration = Duration::from_secs(30);
/// The pause between two attempts to reach a service, or to accept again.
const RETRY: Duration = Duration::from_millis(25);

/// The proxy's side of a detached start. A program that deploys apps calls
/// this first thing in `main`: when started as a proxy (first argument
/// [`PROXY_ARG`], then the app's name and directory) it serves until SIGTERM
/// or until the app is gone, and returns the exit status; otherwise `None`.
pub fn proxy_entry() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(PROXY_ARG)) {
        return None;
    }
    let (Some(name), Some(root)) = (args.next(), args.next()) else {
        eprintln!("bale: {PROXY_ARG} is started by bale, with an app's name and directory");
        return Some(2);
    };
    let app = AppDirs::at(&name.to_string_lossy(), PathBuf::from(root));
    match run(&app, &AtomicBool::new(false), true) {
        Ok(()) => Some(0),
        Err(e) => {
            eprintln!("bale: the proxy of app `{}`: {e}", app.name());
            Some(1)
        }
    }
}

/// Runs the proxy of `app` in this process until `stop` is set: for a
/// program that keeps its own process alive (a test, an embedding server)
/// and deploys with [`super::ProxyLaunch::Caller`]. Waits for the app's
/// first routing table; blocks, so run it on a thread of its own.
pub fn serve_proxy(app: &AppDirs, stop: &AtomicBool) -> Result<(), DeployError> {
    run(app, stop, false)
}

/// Takes the app's proxy lock and serves. A detached proxy exits when
/// another one holds the lock or when the app is removed; one run by the
/// caller waits for the app to (re)appear.
fn run(app: &AppDirs, stop: &AtomicBool, detached: bool) -> Result<(), DeployError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| DeployError::Spawn {
            what: "the proxy's runtime".into(),
            source: e,
        })?;
    loop {
        let Some(lock) = acquire(app, stop, detached)? else {
            return Ok(());
        };
        if detached {
            bale_fs::write_atomic(
                &pid_path(app),
                format!("{}\n", std::process::id()).as_bytes(),
            )?;
        }
        runtime.block_on(serve(app, stop, detached));
        drop(lock);
        if detached || stop.load(Ordering::SeqCst) {
            return Ok(());
        }
    }
}

/// The proxy lock, once the app's proxy directory exists and no other proxy holds it.
fn acquire(
    app: &AppDirs,
    stop: &AtomicBool,
    detached: bool,
) -> Result<Option<std::fs::File>, DeployError> {
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        if super::routes_path(app).is_file() {
            // Never made here: an app removed meanwhile must stay removed.
            let lock = match std::fs::OpenOptions::new()
                .write(true)
                .open(super::lock_path(app))
            {
                Ok(lock) => lock,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    std::thread::sleep(POLL);
                    continue;
                }
                Err(e) => return Err(DeployError::io(super::lock_path(app), e)),
            };
            match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(Some(lock)),
                Err(rustix::io::Errno::WOULDBLOCK) if detached => return Ok(None),
                Err(rustix::io::Errno::WOULDBLOCK) => {}
                Err(e) => return Err(DeployError::io(super::lock_path(app), e.into())),
            }
        } else if detached {
            return Ok(None);
        }
        std::thread::sleep(POLL);
    }
}

/// How often the proxy looks at which services listen and which connections
/// they have open, when the kernel forwards for it.
const SCAN: Duration = Duration::from_millis(100);

/// The loop of one proxy: applies each new routing table, binds and unbinds
/// public ports, hands what it can to the kernel, reports its status, until
/// stopped, terminated, or the app is gone.
async fn serve(app: &AppDirs, stop: &AtomicBool, detached: bool) {
    let table = Arc::new(Table::default());
    let mut kernel = KernelShare::new(app);
    let mut listeners: BTreeMap<u16, JoinHandle<()>> = BTreeMap::new();
    let mut errors: BTreeMap<u16, String> = BTreeMap::new();
    let mut applied: Option<Routes> = None;
    let mut reported: Option<Status> = None;
    let mut terminate = if detached {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok()
    } else {
        None
    };
    while !stop.load(Ordering::SeqCst) {
        let mut changed = false;
        match current_routes(app) {
            Ok(Some(routes)) => {
                if applied.as_ref() != Some(&routes) {
                    table.set(&routes);
                    if let Some(old) = &applied {
                        kernel.retire(old);
                    }
                    applied = Some(routes);
                    changed = true;
                }
            }
            Ok(None) => {
                // The app was removed (or a first deploy failed): let its ports go.
                table.set(&Routes::default());
                break;
            }
            // A table is replaced whole; one that cannot be read keeps the last one in force.
            Err(_) => {}
        }
        let wanted: Vec<u16> = applied
            .as_ref()
            .map(|r| r.routes.iter().map(|r| r.public).collect())
            .unwrap_or_default();
        for &public in &wanted {
            if listeners.contains_key(&public) {
                continue;
            }
            match TcpListener::bind(("0.0.0.0", public)).await {
                Ok(listener) => {
                    errors.remove(&public);
                    let task = tokio::spawn(accept(listener, public, Arc::clone(&table)));
                    listeners.insert(public, task);
                }
                Err(e) => {
                    errors.insert(public, e.to_string());
                }
            }
        }
        listeners.retain(|public, task| {
            let keep = wanted.contains(public);
            if !keep {
                task.abort();
            }
            keep
        });
        errors.retain(|public, _| wanted.contains(public));
        // Only ports the proxy listens on go to the kernel: it owns them.
        let routes: Vec<Route> = applied
            .as_ref()
            .map(|r| {
                r.routes
                    .iter()
                    .filter(|r| listeners.contains_key(&r.public))
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        let held = super::is_held(app);
        table.hold(held);
        kernel.update(app, &routes, changed, held);
        let mut open = table.open();
        for (port, count) in kernel.open() {
            let entry = open.entry(*port).or_default();
            *entry = (*entry).max(*count);
        }
        let status = Status {
            generation: applied.as_ref().map_or(0, |r| r.generation),
            listening: listeners.keys().copied().collect(),
            errors: errors.clone(),
            open,
            kernel: kernel.forwarded(),
            held,
        };
        if reported.as_ref() != Some(&status) {
            if let Err(e) = report(app, &status) {
                eprintln!("bale: the proxy of app `{}`: {e}", app.name());
            }
            reported = Some(status);
        }
        match terminate.as_mut() {
            Some(signal) => tokio::select! {
                _ = signal.recv() => break,
                () = tokio::time::sleep(POLL) => {}
            },
            None => tokio::time::sleep(POLL).await,
        }
    }
    kernel.clear(app);
    for task in listeners.values() {
        task.abort();
    }
}

/// The proxy's rules in the kernel, and what it knows of the services'
/// sockets: which private ports listen, and the connections still open on
/// the private ports of earlier tables.
struct KernelShare {
    kernel: Option<Kernel>,
    in_force: BTreeSet<Redirect>,
    /// Private ports of earlier tables that may still have connections open.
    retired: BTreeSet<u16>,
    open: BTreeMap<u16, u64>,
    scanned: Option<Instant>,
    /// Whether a hold was taken at the last update.
    held: bool,
}

impl KernelShare {
    fn new(app: &AppDirs) -> KernelShare {
        KernelShare {
            kernel: Kernel::for_app(app.root()),
            in_force: BTreeSet::new(),
            retired: BTreeSet::new(),
            open: BTreeMap::new(),
            scanned: None,
            held: false,
        }
    }

    /// Notes the private ports of a table being replaced: their open
    /// connections are counted until they close.
    fn retire(&mut self, old: &Routes) {
        if self.kernel.is_some() {
            self.retired.extend(old.routes.iter().map(|r| r.private));
        }
    }

    /// Looks at the services' sockets (at once after a new table or a hold
    /// taken or let go, else every [`SCAN`]) and makes the kernel's rules
    /// match: a route is redirected while its service listens and no hold
    /// is taken, and left to the proxy otherwise.
    fn update(&mut self, app: &AppDirs, routes: &[Route], changed: bool, held: bool) {
        let Some(kernel) = &self.kernel else {
            return;
        };
        let changed = changed || held != self.held;
        self.held = held;
        if !changed && self.scanned.is_some_and(|t| t.elapsed() < SCAN) {
            return;
        }
        self.scanned = Some(Instant::now());
        let current: BTreeSet<u16> = routes.iter().map(|r| r.private).collect();
        self.retired.retain(|p| !current.contains(p));
        let ports: BTreeSet<u16> = current.union(&self.retired).copied().collect();
        let sockets = match kernel::sockets(&ports, !self.retired.is_empty()) {
            Ok(sockets) => sockets,
            Err(e) => {
                self.give_up(app, &format!("reading /proc/net/tcp: {e}"));
                return;
            }
        };
        self.open = sockets
            .open
            .into_iter()
            .filter(|(port, _)| self.retired.contains(port))
            .collect();
        self.retired.retain(|p| self.open.contains_key(p));
        let wanted: BTreeSet<Redirect> = routes
            .iter()
            .filter(|_| !held)
            .filter_map(|r| {
                sockets.listening.get(&r.private).map(|&wildcard| Redirect {
                    public: r.public,
                    private: r.private,
                    wildcard,
                })
            })
            .collect();
        if wanted == self.in_force {
            return;
        }
        match kernel.apply(&wanted) {
            Ok(()) => self.in_force = wanted,
            Err(e) => self.give_up(
                app,
                &format!("writing nftables table {}: {e}", kernel.table()),
            ),
        }
    }

    /// Stops using the kernel, leaving every connection to the proxy.
    fn give_up(&mut self, app: &AppDirs, why: &str) {
        eprintln!(
            "bale: the proxy of app `{}` forwards by itself from now on: {why}",
            app.name()
        );
        self.clear(app);
        self.kernel = None;
        self.retired.clear();
        self.open.clear();
    }

    /// Removes the app's rules, if any were written.
    fn clear(&mut self, app: &AppDirs) {
        if let Some(kernel) = &self.kernel {
            if !self.in_force.is_empty() {
                if let Err(e) = kernel.clear() {
                    eprintln!(
                        "bale: the proxy of app `{}`: removing its nftables table: {e}",
                        app.name()
                    );
                }
            }
        }
        self.in_force.clear();
    }

    /// Open connections on the private ports of earlier tables.
    fn open(&self) -> &BTreeMap<u16, u64> {
        &self.open
    }

    /// The routes the kernel forwards.
    fn forwarded(&self) -> Vec<Route> {
        self.in_force
            .iter()
            .map(|r| Route {
                public: r.public,
                private: r.private,
            })
            .collect()
    }
}

/// Writes the status whole (renamed into place), without syncing: it only
/// matters while the proxy runs.
fn report(app: &AppDirs, status: &Status) -> io::Result<()> {
    let path = status_path(app);
    let temp = path.with_extension("json.tmp");
    let json = serde_json::to_vec(status).map_err(io::Error::other)?;
    std::fs::write(&temp, json)?;
    std::fs::rename(&temp, &path)
}

/// Accepts connections on one public port until aborted. Aborting it closes
/// the listening socket; connections already accepted go on.
async fn accept(listener: TcpListener, public: u16, table: Arc<Table>) {
    loop {
        match listener.accept().await {
            Ok((inbound, _)) => {
                tokio::spawn(forward(inbound, public, Arc::clone(&table)));
            }
            // Out of file descriptors and the like: let open connections finish first.
            Err(_) => tokio::time::sleep(RETRY).await,
        }
    }
}

/// Forwards one connection to the private port in force, waiting for a service that does not answer yet.
async fn forward(mut inbound: TcpStream, public: u16, table: Arc<Table>) {
    let _ = inbound.set_nodelay(true);
    let deadline = Instant::now() + WAIT_FOR_SERVICE;
    loop {
        if table.held() {
            // The service is being stopped: wait until it is, without touching it.
        } else if let Some(open) = OpenConnection::take(&table, public) {
            if let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", open.private)).await {
                let _ = outbound.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                return;
            }
        }
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// The routing table in force and the open connections by private port.
#[derive(Default)]
struct Table {
    inner: Mutex<TableInner>,
}

#[derive(Default)]
struct TableInner {
    routes: HashMap<u16, u16>,
    open: BTreeMap<u16, u64>,
    /// Whether a hold is taken: new connections wait.
    held: bool,
}

impl Table {
    fn lock(&self) -> std::sync::MutexGuard<'_, TableInner> {
        // The table stays consistent whatever panicked while holding it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, routes: &Routes) {
        self.lock().routes = routes
            .routes
            .iter()
            .map(|r| (r.public, r.private))
            .collect();
    }

    fn open(&self) -> BTreeMap<u16, u64> {
        self.lock().open.clone()
    }

    fn hold(&self, held: bool) {
        self.lock().held = held;
    }

    fn held(&self) -> bool {
        self.lock().held
    }
}

/// A connection counted against the private port it goes to, from the
/// moment the route is looked up (so a deploy waiting for the old version's
/// connections sees it) until it is dropped.
struct OpenConnection {
    table: Arc<Table>,
    private: u16,
}

impl OpenConnection {
    fn take(table: &Arc<Table>, public: u16) -> Option<OpenConnection> {
        let mut inner = table.lock();
        let private = *inner.routes.get(&public)?;
        *inner.open.entry(private).or_default() += 1;
        Some(OpenConnection {
            table: Arc::clone(table),
            private,
        })
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let mut inner = self.table.lock();
        if let Some(count) = inner.open.get_mut(&self.private) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                inner.open.remove(&self.private);
            }
        }
    }
}
