//! The `bale build` child of one build attempt.
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

use tokio::sync::{mpsc, oneshot};

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
