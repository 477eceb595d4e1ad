//! The `bale build` child of one build attempt: its command line and
//! environment, the process, and the steps its lines name.
//!
//! The child leads its own process group, so a cancel kills the whole tree
//! it started (the sandbox dies with its parent). It also gets SIGKILL when
//! the thread that started it goes away, so a worker killed with SIGKILL
//! leaves no build running behind its expired lease. That thread exists
//! only for this child: it starts it, forwards its stderr lines, and waits.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bale_db::builds::{now_ms, BuildRecord, StepRecord};
use tokio::sync::{mpsc, oneshot};

use super::{source, Context};
use crate::ServiceError;

/// How the child ended.
#[derive(Debug)]
pub(crate) struct ChildExit {
    /// Its exit code, `None` when a signal ended it.
    pub code: Option<i32>,
    /// Everything it wrote on stdout.
    pub stdout: Vec<u8>,
}

/// A running child.
#[derive(Debug)]
pub(crate) struct BuildChild {
    pgid: i32,
    exit: oneshot::Receiver<std::io::Result<ChildExit>>,
}

impl BuildChild {
    /// Starts `program args…` with `envs`, sending each stderr line to `lines`.
    pub(crate) fn spawn(
        program: &Path,
        args: Vec<String>,
        envs: Vec<(String, String)>,
        lines: mpsc::UnboundedSender<String>,
    ) -> Result<BuildChild, ServiceError> {
        let (started_tx, started_rx) = std::sync::mpsc::channel::<std::io::Result<i32>>();
        let (exit_tx, exit_rx) = oneshot::channel();
        let program: PathBuf = program.to_path_buf();
        let shown = program.clone();
        std::thread::Builder::new()
            .name("bale-build-child".into())
            .spawn(move || {
                let mut command = Command::new(&program);
                command
                    .args(&args)
                    // The build runs a manifest nobody vetted: it gets no credentials.
                    .env_remove(bale_home::env::BALE_TOKEN)
                    .env_remove(bale_home::env::BALE_HOOK_SECRET)
                    .env_remove(bale_home::env::BALE_KEY_PASSWORD)
                    .env_remove(bale_home::env::BALE_KEY_PASSWORD_FILE)
                    .envs(envs)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                // SAFETY: only async-signal-safe calls between fork and exec.
                unsafe {
                    command.pre_exec(|| {
                        if libc::setpgid(0, 0) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        if libc::prctl(
                            libc::PR_SET_PDEATHSIG,
                            libc::SIGKILL as libc::c_ulong,
                            0,
                            0,
                            0,
                        ) != 0
                        {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                let mut child = match command.spawn() {
                    Ok(child) => child,
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                        return;
                    }
                };
                let _ = started_tx.send(Ok(child.id() as i32));
                let stdout = child.stdout.take();
                let reader = std::thread::spawn(move || {
                    let mut out = Vec::new();
                    if let Some(mut stdout) = stdout {
                        let _ = stdout.read_to_end(&mut out);
                    }
                    out
                });
                if let Some(stderr) = child.stderr.take() {
                    for line in BufReader::new(stderr).split(b'\n') {
                        let Ok(line) = line else { break };
                        let _ = lines.send(
                            String::from_utf8_lossy(&line)
                                .trim_end_matches('\r')
                                .to_owned(),
                        );
                    }
                }
                let status = child.wait();
                let stdout = reader.join().unwrap_or_default();
                let _ = exit_tx.send(status.map(|s| ChildExit {
                    code: s.code(),
                    stdout,
                }));
            })
            .map_err(|source| ServiceError::Spawn {
                program: shown.clone(),
                source,
            })?;
        let pgid = started_rx
            .recv()
            .map_err(|_| {
                ServiceError::Internal("the build thread ended before starting its child".into())
            })?
            .map_err(|source| ServiceError::Spawn {
                program: shown,
                source,
            })?;
        Ok(BuildChild {
            pgid,
            exit: exit_rx,
        })
    }

    /// What kills the child's whole process group, usable while waiting.
    pub(crate) fn killer(&self) -> Killer {
        Killer(self.pgid)
    }

    /// Waits for the child to end.
    pub(crate) async fn wait(&mut self) -> Result<ChildExit, ServiceError> {
        (&mut self.exit)
            .await
            .map_err(|_| ServiceError::Internal("the build thread ended without a result".into()))?
            .map_err(|e| ServiceError::Internal(format!("waiting for the build process: {e}")))
    }
}

/// Kills one child's process group.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Killer(i32);

impl Killer {
    /// Sends SIGKILL to every process of the group.
    pub(crate) fn kill(self) {
        // SAFETY: kill(2) with a negative pid signals the group the child leads.
        unsafe {
            libc::kill(-self.0, libc::SIGKILL);
        }
    }
}

/// The arguments and environment of the `bale build` child.
pub(super) fn build_command(
    ctx: &Context,
    record: &BuildRecord,
    prepared: &source::Prepared,
    out_dir: &Path,
) -> (Vec<String>, Vec<(String, String)>) {
    let mut args = vec![
        "build".to_owned(),
        prepared.dir.display().to_string(),
        "-o".to_owned(),
        out_dir.display().to_string(),
    ];
    args.push("--json".to_owned());
    // A build asked for an architecture runs in that architecture's stack
    // (a name the submit checked; joined to its option, never one itself).
    if let Some(arch) = &record.arch {
        args.push(format!("--arch={arch}"));
    }
    // The second build of a check shares no cache with the first.
    if record.fresh || record.is_rebuild() {
        args.push("--fresh".to_owned());
    }
    if let Some(minutes) = ctx.options.keep_failed {
        args.extend(["--keep-failed".to_owned(), minutes.to_string()]);
    }
    let envs = vec![
        (
            bale_home::env::BALE_HOME.to_owned(),
            ctx.options.home.root().display().to_string(),
        ),
        (bale_home::env::NO_COLOR.to_owned(), "1".to_owned()),
        // The provenance names this service as the builder, and this build.
        (
            bale_home::env::BALE_BUILDER_ID.to_owned(),
            ctx.options.public_url.clone(),
        ),
        (
            bale_home::env::BALE_BUILD_INVOCATION.to_owned(),
            format!(
                "{}/api/v1/builds/{}",
                ctx.options.public_url.trim_end_matches('/'),
                record.id
            ),
        ),
    ];
    (args, envs)
}

/// Forwards the child's lines to the log, noting when each step began
/// (for a failed build, whose facts are not printed).
pub(super) async fn follow_steps(
    mut lines: mpsc::UnboundedReceiver<String>,
    log: mpsc::UnboundedSender<String>,
) -> Vec<StepRecord> {
    let mut steps: Vec<StepRecord> = Vec::new();
    while let Some(line) = lines.recv().await {
        let text = line.trim_start();
        let now = now_ms();
        if let Some(name) = text.strip_prefix("Step ") {
            if let Some(last) = steps.last_mut() {
                last.duration_ms = now - last.started_at;
            }
            steps.push(StepRecord {
                name: name.trim().to_owned(),
                started_at: now,
                duration_ms: 0,
                status: "ok".into(),
            });
        } else if text.starts_with("Failed ") {
            if let Some(last) = steps.last_mut() {
                last.duration_ms = now - last.started_at;
                last.status = "failed".into();
            }
        }
        let _ = log.send(line);
    }
    if let Some(last) = steps.last_mut() {
        if last.duration_ms == 0 {
            last.duration_ms = now_ms() - last.started_at;
        }
    }
    steps
}

/// A step of a successful build's facts, as recorded.
pub(super) fn step_record(step: &bale_api::StepFacts) -> StepRecord {
    StepRecord {
        name: step.name.clone(),
        started_at: i64::try_from(step.started_at).unwrap_or(i64::MAX),
        duration_ms: i64::try_from(step.duration_ms).unwrap_or(i64::MAX),
        status: step.status.clone(),
    }
}
