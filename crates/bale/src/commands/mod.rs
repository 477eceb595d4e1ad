//! One module per command; each turns parsed arguments into calls on the
//! library crates and output through the printer.

mod app;
mod apps;
mod build;
mod builds;
mod cancel;
mod check;
mod deploy;
mod export;
mod gc;
mod hosts;
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
mod sbom;
mod serve;
mod service;
mod stack;
mod submit;
mod supervise;
mod system;
mod token;
mod uninstall;
mod verify;
mod watch;
mod worker;

use crate::cli::Command;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub use deploy::parse_env;

/// Runs one command on this machine.
pub fn run(command: Command, printer: &Printer) -> Result<(), Failure> {
    let machine = Machine::new();
    let m = &machine;
    match command {
        Command::Init(args) => init::run(args, printer),
        Command::Check(args) => check::run(args, m, printer),
        Command::Pack(args) => pack::run(args, m, printer),
        Command::Inspect(args) => inspect::run(args, printer),
        Command::Verify(args) => verify::run(args, m, printer),
        Command::Key(cmd) => key::run(cmd, m, printer),
        Command::Sign(args) => key::sign(args, m, printer),
        Command::Export(cmd) => export::run(cmd, m, printer),
        Command::Install(args) => install::run(args, m, printer),
        Command::Serve(args) => serve::run(args, m, printer),
        Command::Worker(args) => worker::run(args, m, printer),
        Command::Submit(args) => submit::run(args, m, printer),
        Command::Builds(args) => builds::run(args, m, printer),
        Command::Cancel(args) => cancel::run(args, m, printer),
        Command::Query(args) => query::run(args, m, printer),
        Command::Token(cmd) => token::run(cmd, m, printer),
        Command::Publish(args) => repo::publish(args, m, printer),
        Command::Fetch(args) => repo::fetch(args, m, printer),
        Command::Build(args) => build::run(args, m, printer),
        Command::Stack(cmd) => stack::run(cmd, m, printer),
        Command::Deploy(args) => deploy::run(args, m, printer),
        Command::Rollback(args) => rollback::run(args, m, printer),
        Command::Apps => apps::run(m, printer),
        Command::Service(args) => service::run(args, m, printer),
        Command::Logs(args) => logs::run(args, m, printer),
        Command::App(args) => app::run(args, m),
        Command::Uninstall(args) => uninstall::run(args, m, printer),
        Command::Supervise(args) => supervise::run(args, m, printer),
        Command::Gc(args) => gc::run(args, m, printer),
        Command::System(cmd) => system::run(cmd, m, printer),
        Command::Watch(args) => watch::run(args, m, printer),
        Command::CliReference => reference::run(printer),
    }
}
