//! All output goes through one printer: it decides between human text,
//! JSON and silence, and where progress bars draw (only on a terminal).
//! It is the one module allowed to write to stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anstream::{eprintln, println};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::exit::Failure;

/// The one place that writes to stdout and stderr.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    quiet: bool,
    json: bool,
    terminal: bool,
}

impl Printer {
    /// A printer for these global flags.
    pub fn new(quiet: bool, json: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Self {
            quiet,
            json,
            terminal,
        }
    }

    /// Whether the command should print JSON instead of text.
    pub fn json(&self) -> bool {
        self.json
    }

    /// A line of human output on stdout (suppressed by `--quiet` and `--json`).
    pub fn line(&self, text: impl std::fmt::Display) {
        if !self.quiet && !self.json {
            println!("{text}");
        }
    }

    /// A status line on stderr: what bale is doing (suppressed by `--quiet`).
    pub fn status(&self, verb: &str, text: impl std::fmt::Display) {
        if !self.quiet {
            let verb = if self.colour() {
                format!("\x1b[1;32m{verb:>12}\x1b[0m")
            } else {
                format!("{verb:>12}")
            };
            eprintln!("{verb} {text}");
        }
    }

    /// A warning on stderr.
    pub fn warn(&self, text: impl std::fmt::Display) {
        let label = if self.colour() {
            "\x1b[1;33mwarning\x1b[0m"
        } else {
            "warning"
        };
        eprintln!("{label}: {text}");
    }

    /// Prints a serialisable value as pretty JSON on stdout.
    pub fn print_json<T: Serialize>(&self, value: &T) -> Result<(), Failure> {
        let text = serde_json::to_string_pretty(value).map_err(|e| Failure::internal(e.into()))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}").map_err(|e| Failure::internal(e.into()))
    }

    /// Raw text on stderr, exactly as given (e.g. rendered diagnostics).
    pub fn raw_stderr(&self, text: &str) {
        eprintln!("{text}");
    }

    /// Whether output may use colour.
    pub fn colour(&self) -> bool {
        self.terminal && std::env::var_os(bale_home::env::NO_COLOR).is_none()
    }

    /// A progress bar over `total` bytes; hidden unless stderr is a terminal.
    pub fn bytes_bar(&self, message: &str, total: u64) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(total), self.draw_target());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>12.green.bold} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(message.to_owned());
        bar
    }

    /// A spinner for work of unknown length; hidden unless stderr is a terminal.
    pub fn spinner(&self, message: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(None, self.draw_target());
        bar.set_style(
            ProgressStyle::with_template("{spinner:.green} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    fn draw_target(&self) -> ProgressDrawTarget {
        if self.terminal && !self.quiet && !self.json {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        }
    }

    /// Reports a command line clap refused, or the help or version asked for.
    pub fn clap(error: &clap::Error) {
        // clap renders its own colours and chooses stdout (help) or stderr (errors).
        let _ = error.print();
    }

    /// Reports a failed command on stderr (or as JSON on stdout with `--json`).
    pub fn failure(&self, failure: &Failure) {
        if failure.is_reported() {
            return;
        }
        if self.json {
            // The build service's worker reads this back from `bale build --json`.
            let code = if failure.code() == crate::exit::INTERNAL {
                "internal"
            } else {
                "failed"
            };
            let envelope = bale_api::ErrorEnvelope::new(code, format!("{:#}", failure.error()));
            println!("{}", serde_json::to_string(&envelope).unwrap_or_default());
            return;
        }
        let label = if self.colour() {
            "\x1b[1;31merror\x1b[0m"
        } else {
            "error"
        };
        let mut chain = failure.error().chain();
        if let Some(first) = chain.next() {
            eprintln!("{label}: {first}");
        }
        for cause in chain {
            eprintln!("  caused by: {cause}");
        }
    }
}

/// An error and its causes on one line, each once: `what: why: deeper why`.
pub struct Causes<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Causes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
        Ok(())
    }
}
