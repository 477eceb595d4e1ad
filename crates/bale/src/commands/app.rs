//! `bale app APP COMMAND [ARGS…]`: run a `[run.commands]` entry in the app's environment.

use anyhow::Context;

use crate::cli::AppArgs;
use crate::exit::{refuse, Failure};
use crate::machine::Machine;

pub fn run(args: AppArgs, machine: &Machine) -> Result<(), Failure> {
    let mut command = bale_app::command(
        machine.home()?,
        &args.app,
        &args.command,
        &args.args,
        machine.isolation()?,
    )?;
    // The command talks to the terminal directly: it may be an interactive console.
    let status = command
        .status()
        .with_context(|| format!("cannot run `{}` of app {}", args.command, args.app))?;
    if !status.success() {
        refuse!("`{}` of app {} {status}", args.command, args.app);
    }
    Ok(())
}
