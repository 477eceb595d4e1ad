//! One module per command; each turns parsed arguments into calls on the
//! library crates and output through the printer.

mod app;
mod apps;
mod build;
pub mod builds;
pub mod cancel;
mod check;
mod deploy;
pub(crate) mod hosts;
mod init;
mod inspect;
mod install;
mod key;
mod logs;
mod pack;
pub mod query;
mod reference;
mod repo;
mod rollback;
pub mod serve;
mod service;
mod stack;
pub mod submit;
pub mod supervise;
mod uninstall;
mod verify;
pub mod watch;
pub mod worker;

use anyhow::Context;
use bale_home::Home;

use crate::cli::Command;
use crate::exit::{Failure, Internal};
use crate::printer::Printer;

pub use deploy::parse_env;

/// Runs one command.
pub fn run(command: Command, printer: &Printer) -> Result<(), Failure> {
    match command {
        Command::Init(args) => init::run(args, printer),
        Command::Check(args) => check::run(args, printer),
        Command::Pack(args) => pack::run(args, printer),
        Command::Inspect(args) => inspect::run(args, printer),
        Command::Verify(args) => verify::run(args, printer),
        Command::Key(cmd) => key::run(cmd, printer),
        Command::Sign(args) => key::sign(args, printer),
        Command::Install(args) => install::run(args, printer),
        Command::Serve(args) => serve::run(args, printer),
        Command::Worker(args) => worker::run(args, printer),
        Command::Submit(args) => submit::run(args, printer),
        Command::Builds(args) => builds::run(args, printer),
        Command::Cancel(args) => cancel::run(args, printer),
        Command::Query(args) => query::run(args, printer),
        Command::Token(cmd) => repo::token(cmd, printer),
        Command::Publish(args) => repo::publish(args, printer),
        Command::Fetch(args) => repo::fetch(args, printer),
        Command::Build(args) => build::run(args, printer),
        Command::Stack(cmd) => stack::run(cmd, printer),
        Command::Deploy(args) => deploy::run(args, printer),
        Command::Rollback(args) => rollback::run(args, printer),
        Command::Apps => apps::run(printer),
        Command::Service(args) => service::run(args, printer),
        Command::Logs(args) => logs::run(args, printer),
        Command::App(args) => app::run(args, printer),
        Command::Uninstall(args) => uninstall::run(args, printer),
        Command::Supervise(args) => supervise::run(args, printer),
        Command::Watch(args) => watch::run(args, printer),
        Command::CliReference => reference::run(printer),
    }
}

/// The machine's `$BALE_HOME`.
fn home() -> Result<Home, Failure> {
    Home::from_env().context("finding BALE_HOME").internal()
}
