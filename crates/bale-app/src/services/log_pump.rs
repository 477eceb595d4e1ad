//! The log pump: a small process that reads a service's output from a pipe
//! and writes it to the service's rotating log.
//!
//! A service outlives the bale that started it (`bale deploy` exits, the
//! supervisor restarts), so the byte counting that rotation needs cannot live
//! in that bale. The pump is this program again, re-executed with
//! [`LOG_PUMP_ARG`] like the sandbox keeper, in a session of its own so that
//! stopping the service's group leaves it to write the service's last words;
//! it ends when the last writer of the pipe has gone.
//!
//! Only a program that calls [`log_pump_entry`] first thing in `main` can be
//! re-executed as a pump; calling it is also what tells this crate so. In any
//! other program (a test harness) services append to one log that does not
//! rotate.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use super::log::{LogRotation, RotatingLog};
use crate::DeployError;

/// The first argument that makes a program started by bale a log pump.
pub const LOG_PUMP_ARG: &str = "__bale-log-pump";
/// The environment variable that carries the pump's log and limits, as JSON.
const LOG_PUMP_ENV: &str = bale_home::env::BALE_LOG_PUMP;
/// The exit status of a pump that could not start.
const PUMP_FAILED: i32 = 125;

/// Set once this program has shown it can be re-executed as a pump.
static PUMP_AVAILABLE: AtomicBool = AtomicBool::new(false);

/// What a pump is told.
#[derive(Debug, Serialize, Deserialize)]
struct PumpJob {
    log: PathBuf,
    max_bytes: u64,
    keep: u32,
}

/// The pump's side. A program that runs app services calls this first thing in
/// `main`: started as a pump (first argument [`LOG_PUMP_ARG`]) it copies its
/// standard input into the log and returns the status to exit with; otherwise
/// it records that this program can pump logs and returns `None`.
pub fn log_pump_entry() -> Option<i32> {
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(LOG_PUMP_ARG)) {
        PUMP_AVAILABLE.store(true, Ordering::SeqCst);
        return None;
    }
    let job = std::env::var(LOG_PUMP_ENV)
        .ok()
        .and_then(|json| serde_json::from_str::<PumpJob>(&json).ok());
    let Some(job) = job else {
        return Some(PUMP_FAILED);
    };
    let rotation = LogRotation {
        max_bytes: job.max_bytes,
        keep: job.keep,
    };
    let Ok(mut log) = RotatingLog::open(&job.log, rotation) else {
        // Nothing to write to: drain anyway, so the service never blocks or gets SIGPIPE.
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        return Some(PUMP_FAILED);
    };
    let mut input = std::io::stdin().lock();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match input.read(&mut buffer) {
            Ok(0) => return Some(0),
            // A write that fails (a full disk) loses that output, never the service.
            Ok(n) => {
                let _ = log.write_all(&buffer[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Some(PUMP_FAILED),
        }
    }
}

/// Where a service's standard output and error go.
pub(super) struct ServiceOutput {
    /// Its standard output.
    pub stdout: Stdio,
    /// Its standard error.
    pub stderr: Stdio,
}

/// Starts a pump for the log at `log` and hands back the pipe's write end for the
/// service; without a pump (see the module's docs) the log file itself, appended to.
pub(super) fn service_output(
    log: &Path,
    rotation: LogRotation,
) -> Result<ServiceOutput, DeployError> {
    if !PUMP_AVAILABLE.load(Ordering::SeqCst) {
        let out = RotatingLog::open(log, rotation)
            .and_then(RotatingLog::into_file)
            .map_err(|e| DeployError::io(log, e))?;
        let err = out.try_clone().map_err(|e| DeployError::io(log, e))?;
        return Ok(ServiceOutput {
            stdout: out.into(),
            stderr: err.into(),
        });
    }
    let spawn_error = |source: std::io::Error| DeployError::Spawn {
        what: format!("the log pump of {}", log.display()),
        source,
    };
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| spawn_error(e.into()))?;
    let job = serde_json::to_string(&PumpJob {
        log: log.to_owned(),
        max_bytes: rotation.max_bytes,
        keep: rotation.keep,
    })
    .map_err(|e| spawn_error(std::io::Error::other(e)))?;
    let program = std::env::current_exe().map_err(spawn_error)?;
    let mut pump = Command::new(program);
    pump.arg(LOG_PUMP_ARG)
        .env_clear()
        .env(LOG_PUMP_ENV, job)
        .current_dir("/")
        .stdin(Stdio::from(read))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    super::process::in_new_session(&mut pump);
    let child = pump.spawn().map_err(spawn_error)?;
    super::reap(child);
    let err: OwnedFd = write.try_clone().map_err(spawn_error)?;
    Ok(ServiceOutput {
        stdout: Stdio::from(write),
        stderr: Stdio::from(err),
    })
}
