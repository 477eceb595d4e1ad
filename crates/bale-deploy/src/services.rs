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

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use bale_manifest::{Health, HealthCheck, Manifest};
use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};

use crate::deployment::AppDirs;
use crate::runner::{Isolation, RunContext};
use crate::DeployError;

/// How long a service may take to exit after SIGTERM before it gets SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// The pid file's mark of a service in its stack.
const STACK_MARK: &str = "stack";
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

fn pid_path(app: &AppDirs, service: &str) -> PathBuf {
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

/// Starts `service` in its own session, its output appended to its log. Returns its pid.
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
    let down = down_path(app, &service.name);
    match fs::remove_file(&down) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(DeployError::io(&down, e)),
        _ => {}
    }
    let log = log_path(app, &service.name);
    let out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| DeployError::io(&log, e))?;
    let err = out.try_clone().map_err(|e| DeployError::io(&log, e))?;
    let mut command = ctx.shell(isolation, &service.command, &[], &port_env(service.port))?;
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid()
                .map(|_| ())
                .map_err(io::Error::from)
        });
    }
    let child = command.spawn().map_err(|source| DeployError::Spawn {
        what: format!("service `{}`", service.name),
        source,
    })?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let pid_file = pid_path(app, &service.name);
    let fresh = pid_file.with_extension("pid.new");
    let text = match isolation {
        Isolation::None => format!("{pid}\n"),
        Isolation::Stack => format!("{pid}\n{STACK_MARK}\n"),
    };
    fs::write(&fresh, text)
        .and_then(|()| fs::rename(&fresh, &pid_file))
        .map_err(|e| DeployError::io(&pid_file, e))?;
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

/// `PORT` for a service with a port.
pub(crate) fn port_env(port: Option<u16>) -> Vec<(String, String)> {
    port.map(|p| vec![("PORT".to_owned(), p.to_string())])
        .unwrap_or_default()
}

/// Whether `service` runs, from its pid file.
pub fn state(app: &AppDirs, service: &str) -> ServiceState {
    match read_pid(app, service) {
        Some(pid) if group_alive(pid) => ServiceState::Running { pid },
        _ => ServiceState::Stopped,
    }
}

fn read_pid(app: &AppDirs, service: &str) -> Option<i32> {
    fs::read_to_string(pid_path(app, service))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Whether the pid file of `service` names a sandbox keeper.
fn in_stack(app: &AppDirs, service: &str) -> bool {
    fs::read_to_string(pid_path(app, service))
        .is_ok_and(|text| text.lines().nth(1).is_some_and(|l| l.trim() == STACK_MARK))
}

/// One process as `/proc/<pid>/stat` shows it.
struct ProcessEntry {
    pid: i32,
    ppid: i32,
    session: i32,
    command: String,
}

/// Every process of the machine that this process may see.
fn processes() -> Vec<ProcessEntry> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let command = stat.get(open + 1..close)?.to_owned();
            // After the name: state, ppid, pgrp, session.
            let mut fields = stat.get(close + 1..)?.split_whitespace();
            let ppid = fields.nth(1)?.parse().ok()?;
            let session = fields.nth(1)?.parse().ok()?;
            Some(ProcessEntry {
                pid,
                ppid,
                session,
                command,
            })
        })
        .collect()
}

/// The processes a sandbox keeper `keeper` runs inside its sandbox: its
/// descendants outside its own session, bubblewrap's own processes left out.
fn sandboxed_processes(keeper: i32) -> Vec<i32> {
    let all = processes();
    let mut tree = vec![keeper];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(all.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
        i += 1;
    }
    all.iter()
        .filter(|p| tree.contains(&p.pid) && p.session != keeper && p.command != "bwrap")
        .map(|p| p.pid)
        .collect()
}

/// Whether the process group `pid` has a member that is not a zombie.
///
/// Zombies count as dead: where nothing reaps orphans (a container whose
/// pid 1 does not wait), a stopped service would otherwise look alive forever.
fn group_alive(pid: i32) -> bool {
    if Pid::from_raw(pid).is_none_or(|p| test_kill_process_group(p).is_err()) {
        return false;
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return false;
        };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // After the command name in parentheses: state, ppid, pgrp.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        pgrp == Some(pid) && state != Some("Z")
    })
}

/// Stops `service`: SIGTERM to its group, SIGKILL after `timeout`. Returns whether it ran.
pub fn stop(app: &AppDirs, service: &str, timeout: Duration) -> Result<bool, DeployError> {
    let pid_file = pid_path(app, service);
    let Some(pid) = read_pid(app, service) else {
        let _ = fs::remove_file(&pid_file);
        return Ok(false);
    };
    let Some(group) = Pid::from_raw(pid) else {
        let _ = fs::remove_file(&pid_file);
        return Ok(false);
    };
    let mut ran = false;
    let asked = if in_stack(app, service) && group_alive(pid) {
        for inner in sandboxed_processes(pid) {
            if let Some(inner) = Pid::from_raw(inner) {
                let _ = rustix::process::kill_process(inner, Signal::TERM);
            }
        }
        true
    } else {
        kill_process_group(group, Signal::TERM).is_ok()
    };
    if asked {
        ran = true;
        let deadline = Instant::now() + timeout;
        while group_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(25));
        }
        if group_alive(pid) {
            let _ = kill_process_group(group, Signal::KILL);
            let deadline = Instant::now() + timeout;
            while group_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    match fs::remove_file(&pid_file) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(DeployError::io(&pid_file, e)),
        _ => Ok(ran),
    }
}

/// Stops every service that has a pid file, whatever deployment started it.
pub fn stop_all(app: &AppDirs, timeout: Duration) -> Result<Vec<String>, DeployError> {
    let mut stopped = Vec::new();
    let Ok(entries) = fs::read_dir(app.pids_dir()) else {
        return Ok(stopped);
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
    for name in names {
        if stop(app, &name, timeout)? {
            stopped.push(name);
        }
    }
    Ok(stopped)
}

/// Waits until `service` is healthy: its kit's check passes within the kit's
/// timeout; without a check, it is still running.
pub fn wait_healthy(
    isolation: Isolation,
    ctx: &RunContext,
    app: &AppDirs,
    service: &Service,
) -> Result<(), DeployError> {
    let unhealthy = |reason: String| DeployError::Unhealthy {
        service: service.name.clone(),
        reason,
        log: log_tail(app, &service.name),
    };
    let Some(health) = &service.health else {
        return match state(app, &service.name) {
            ServiceState::Running { .. } => Ok(()),
            ServiceState::Stopped => Err(unhealthy("it exited".into())),
        };
    };
    let deadline = Instant::now() + health.timeout();
    loop {
        if state(app, &service.name) == ServiceState::Stopped {
            return Err(unhealthy("it exited".into()));
        }
        let attempt = match &health.check {
            HealthCheck::Http(path) => match service.port {
                Some(port) => http_check(port, path),
                None => Err(format!(
                    "its kit checks http {path} but gives no port; add `ports` to the kit"
                )),
            },
            HealthCheck::Command(script) => {
                command_check(isolation, ctx, service, script, deadline)
            }
        };
        let last = match attempt {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        };
        if Instant::now() >= deadline {
            return Err(unhealthy(format!(
                "{last} (gave up after {}s)",
                health.timeout().as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One `GET path` on 127.0.0.1:port; Ok on a 2xx answer.
fn http_check(port: u16, path: &str) -> Result<(), String> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))
        .map_err(|e| format!("http://{address}{path}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("http://{address}{path}: {e}"))?;
    let mut head = [0u8; 64];
    let mut len = 0;
    while len < head.len() {
        match stream.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) => return Err(format!("http://{address}{path}: {e}")),
        }
        if head[..len].contains(&b'\n') {
            break;
        }
    }
    let line = String::from_utf8_lossy(&head[..len]);
    let line = line.lines().next().unwrap_or("").trim().to_owned();
    match line.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') && code.len() == 3 => Ok(()),
        Some(_) => Err(format!("http://{address}{path} answered `{line}`")),
        None => Err(format!("http://{address}{path} gave no HTTP answer")),
    }
}

/// One run of a health command, stopped at the deadline; Ok when it exits 0.
fn command_check(
    isolation: Isolation,
    ctx: &RunContext,
    service: &Service,
    script: &str,
    deadline: Instant,
) -> Result<(), String> {
    let mut child = ctx
        .shell(isolation, script, &[], &port_env(service.port))
        .map_err(|e| crate::deploy_error::with_causes(&e))?
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run `{script}`: {e}"))?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("`{script}` {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{script}` did not finish in time"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            Err(e) => return Err(format!("`{script}`: {e}")),
        }
    }
}

/// The last lines of a service's log.
pub fn log_tail(app: &AppDirs, service: &str) -> String {
    let text = fs::read(log_path(app, service)).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines[start..].join("\n")
}
