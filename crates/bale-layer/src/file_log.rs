//! An [`Install`] for callers without a build log (the deployer making the
//! layer a package runs on): the script's output goes to a file.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bale_sandbox::{Sandbox, SandboxError, SandboxSpec};

use crate::Install;

/// How many of a failed run's last lines its error keeps.
const TAIL_LINES: usize = 30;

/// Runs the install in a sandbox, its output (stdout and stderr) written to one file.
pub struct FileLog<'a> {
    sandbox: &'a Sandbox,
    path: PathBuf,
    deadline: Instant,
}

impl<'a> FileLog<'a> {
    /// Writes to `path` (created or truncated); the run must end by `deadline`.
    pub fn new(sandbox: &'a Sandbox, path: &Path, deadline: Instant) -> FileLog<'a> {
        FileLog {
            sandbox,
            path: path.to_path_buf(),
            deadline,
        }
    }
}

/// Why a run logged to a file failed.
#[derive(Debug, thiserror::Error)]
pub enum FileLogError {
    /// The log file could not be written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The log file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The sandbox could not run the script.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The script failed or ran out of time.
    #[error("installing the packages {reason}\nfull log: {}\nlast lines:\n{last_lines}", log.display())]
    Failed {
        /// What happened, in words: "exited with 100", "timed out".
        reason: String,
        /// The log file.
        log: PathBuf,
        /// The last lines the script printed.
        last_lines: String,
    },
}

impl Install for FileLog<'_> {
    type Error = FileLogError;

    fn run(&mut self, spec: &SandboxSpec, script: String) -> Result<(), FileLogError> {
        let io = |source| FileLogError::Io {
            path: self.path.clone(),
            source,
        };
        let mut out = File::create(&self.path).map_err(io)?;
        let mut err = out.try_clone().map_err(io)?;
        let mut spec = spec.clone();
        spec.command = vec!["/bin/sh".into(), "-ec".into(), script];
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.failed("was not started: its time ran out".into()));
        }
        spec.timeout = Some(left);
        let outcome = self.sandbox.run(&spec, &mut out, &mut err)?;
        if outcome.success() {
            return Ok(());
        }
        Err(self.failed(if outcome.timed_out {
            "timed out".into()
        } else {
            format!("exited with {}", outcome.status)
        }))
    }

    fn last_lines(error: &FileLogError) -> Option<&str> {
        match error {
            FileLogError::Failed { last_lines, .. } => Some(last_lines),
            _ => None,
        }
    }

    fn note(&mut self, _text: &str) {}
}

impl FileLog<'_> {
    fn failed(&self, reason: String) -> FileLogError {
        // The log is read back only to show its end; an unreadable one shows nothing.
        let text = fs::read(&self.path).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(TAIL_LINES);
        FileLogError::Failed {
            reason,
            log: self.path.clone(),
            last_lines: lines[start..].join("\n"),
        }
    }
}
