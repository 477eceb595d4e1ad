//! `bale`: build, package, sign, store and deploy applications.
//!
//! A thin binary: argument parsing and output live here, the work lives in
//! the library crates.
// The printer is the only writer of output (it allows itself these).
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod commands;
mod exit;
mod machine;
mod printer;

use std::process::ExitCode;

use clap::FromArgMatches;

use crate::cli::Cli;
use crate::printer::Printer;

fn main() -> ExitCode {
    // Started by bale itself to keep an app's sandbox (see bale_app::sandboxed_entry).
    if let Some(status) = bale_app::sandboxed_entry() {
        return ExitCode::from(u8::try_from(status).unwrap_or(1));
    }
    // Started by bale itself to own an app's public ports (see bale_app::proxy_entry).
    if let Some(status) = bale_app::proxy_entry() {
        return ExitCode::from(u8::try_from(status).unwrap_or(1));
    }
    // Started by bale itself to write a service's rotating log (see bale_app::log_pump_entry).
    if let Some(status) = bale_app::log_pump_entry() {
        return ExitCode::from(u8::try_from(status).unwrap_or(1));
    }
    let parsed = cli::command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => {
            let code = match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => exit::USER,
            };
            Printer::clap(&err);
            return ExitCode::from(code);
        }
    };
    let printer = Printer::new(cli.global.quiet, cli.global.json_requested(&cli.command));
    // A panic is a bug in bale, never the user's fault: report it as internal.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        commands::run(cli.command, &printer)
    }));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(failure)) => {
            printer.failure(&failure);
            ExitCode::from(failure.code())
        }
        Err(_) => ExitCode::from(exit::INTERNAL),
    }
}
