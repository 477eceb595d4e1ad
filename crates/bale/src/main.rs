//! `bale`: build, package, sign, store and deploy applications.
//!
//! A thin binary: argument parsing and output live here, the work lives in
//! the library crates.

mod cli;
mod commands;
mod exit;
mod printer;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::exit::Failure;
use crate::printer::Printer;

fn main() -> ExitCode {
    // Started by bale itself to keep an app's sandbox (see bale_app::sandboxed_entry).
    if let Some(status) = bale_app::sandboxed_entry() {
        return ExitCode::from(u8::try_from(status).unwrap_or(1));
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => exit::USER,
            };
            let _ = err.print();
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

impl From<anyhow::Error> for Failure {
    fn from(err: anyhow::Error) -> Self {
        Failure::user(err)
    }
}
