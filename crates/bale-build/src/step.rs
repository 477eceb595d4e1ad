//! Running a step's commands in the sandbox: each by `/bin/sh -ec`, its
//! output streamed line by line to the caller and kept in the build's log.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use bale_sandbox::{Sandbox, SandboxSpec};

use crate::BuildError;

/// How many of a failed step's last lines its error shows.
pub const TAIL_LINES: usize = 30;

/// What the build tells its caller while it runs.
#[derive(Debug, Clone, Copy)]
pub enum BuildEvent<'a> {
    /// A step began.
    StepStarted {
        /// The step's name.
        step: &'a str,
    },
    /// A line of a step's output (stdout and stderr alike).
    Output {
        /// The step's name.
        step: &'a str,
        /// The line, without its newline.
        line: &'a str,
    },
    /// A step ended.
    StepFinished {
        /// The step's name.
        step: &'a str,
        /// How long it took.
        duration_ms: u64,
        /// Whether it succeeded.
        ok: bool,
    },
    /// Something worth saying that is not a step's output.
    Note(&'a str),
}

/// The receiver of a build's events.
pub type Events<'a> = dyn FnMut(BuildEvent<'_>) + Send + 'a;

/// The build's log file and the listener, shared by a run's two output streams.
pub struct Log<'e> {
    path: PathBuf,
    file: File,
    events: &'e mut Events<'e>,
    tail: VecDeque<String>,
}

impl<'e> Log<'e> {
    /// A log written to `path` (created or truncated), echoed to `events`.
    pub fn create(path: &Path, events: &'e mut Events<'e>) -> Result<Self, BuildError> {
        let file = File::create(path).map_err(|e| BuildError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            events,
            tail: VecDeque::new(),
        })
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Passes on an event (and writes step boundaries and notes to the file).
    pub fn event(&mut self, event: BuildEvent<'_>) {
        // The log is a record, not a gate: a full disk must not fail the build here.
        let _ = match event {
            BuildEvent::StepStarted { step } => writeln!(self.file, "==> {step}"),
            BuildEvent::StepFinished {
                step,
                duration_ms,
                ok,
            } => {
                writeln!(
                    self.file,
                    "==> {step} {} in {duration_ms} ms",
                    if ok { "done" } else { "FAILED" }
                )
            }
            BuildEvent::Note(text) => writeln!(self.file, "--- {text}"),
            BuildEvent::Output { .. } => Ok(()),
        };
        if let BuildEvent::StepStarted { .. } = event {
            self.tail.clear();
        }
        (self.events)(event);
    }

    /// Writes one output line of `step` and passes it on.
    pub(crate) fn line(&mut self, step: &str, line: &str) {
        let _ = writeln!(self.file, "[{step}] {line}");
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.to_string());
        (self.events)(BuildEvent::Output { step, line });
    }

    /// The last lines of the current step.
    pub fn tail(&self) -> String {
        self.tail
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// One output stream of a run, cut into lines.
struct Stream<'l, 'e> {
    log: &'l Mutex<&'l mut Log<'e>>,
    step: &'l str,
    pending: Vec<u8>,
}

impl Stream<'_, '_> {
    fn emit(&mut self, upto: usize) {
        let line: Vec<u8> = self.pending.drain(..upto).collect();
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if let Ok(mut log) = self.log.lock() {
            log.line(self.step, text);
        }
    }

    fn finish(&mut self) {
        if !self.pending.is_empty() {
            let n = self.pending.len();
            self.emit(n);
        }
    }
}

impl Write for Stream<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            self.emit(pos + 1);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs each of `commands` as `/bin/sh -ec COMMAND` in a fresh sandbox made
/// from `base`, as step `step`; stops at the first failure.
///
/// `deadline` bounds the whole build: each command gets the time left.
pub fn run_step(
    sandbox: &Sandbox,
    base: &SandboxSpec,
    step: &str,
    commands: &[String],
    deadline: Instant,
    log: &mut Log<'_>,
) -> Result<u64, BuildError> {
    let started = Instant::now();
    log.event(BuildEvent::StepStarted { step });
    let mut result = Ok(());
    for command in commands {
        result = run_command(sandbox, base, step, command, deadline, log);
        if result.is_err() {
            break;
        }
    }
    let duration_ms = started.elapsed().as_millis() as u64;
    log.event(BuildEvent::StepFinished {
        step,
        duration_ms,
        ok: result.is_ok(),
    });
    result.map(|()| duration_ms)
}

fn run_command(
    sandbox: &Sandbox,
    base: &SandboxSpec,
    step: &str,
    command: &str,
    deadline: Instant,
    log: &mut Log<'_>,
) -> Result<(), BuildError> {
    let mut spec = base.clone();
    spec.command = vec!["/bin/sh".into(), "-ec".into(), command.to_string()];
    let left = deadline.saturating_duration_since(Instant::now());
    spec.timeout = Some(left);
    let outcome = {
        let shared = Mutex::new(&mut *log);
        let mut out = Stream {
            log: &shared,
            step,
            pending: Vec::new(),
        };
        let mut err = Stream {
            log: &shared,
            step,
            pending: Vec::new(),
        };
        let outcome = if left.is_zero() {
            None
        } else {
            Some(sandbox.run(&spec, &mut out, &mut err))
        };
        out.finish();
        err.finish();
        outcome
    };
    let (status, reason) = match outcome {
        Some(Ok(o)) if o.success() => return Ok(()),
        Some(Ok(o)) if o.timed_out => (
            o.status,
            "timed out: the build's time limit ([build] timeout) passed".to_string(),
        ),
        Some(Ok(o)) => match o.limit_hit {
            Some(limit) => (
                o.status,
                format!("exited with {} after hitting {limit}", o.status),
            ),
            None => (o.status, format!("exited with {}", o.status)),
        },
        Some(Err(e)) => return Err(e.into()),
        None => (
            -1,
            "was not started: the build's time limit ([build] timeout) passed".to_string(),
        ),
    };
    Err(BuildError::StepFailed {
        step: step.to_string(),
        command: command.to_string(),
        status,
        reason,
        log: log.path().to_path_buf(),
        last_lines: log.tail(),
    })
}
