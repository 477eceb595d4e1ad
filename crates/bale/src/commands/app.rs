//! `bale app APP COMMAND [ARGS…]`: run a `[run.commands]` entry in the app's environment.

use crate::cli::AppArgs;
use crate::exit::Failure;
use crate::printer::Printer;

pub fn run(args: AppArgs, _printer: &Printer) -> Result<(), Failure> {
    let home = super::home()?;
    let mut command = bale_app::command(
        &home,
        &args.app,
        &args.command,
        &args.args,
        super::deploy::machine_isolation(&home)?,
    )
    .map_err(super::deploy::failure)?;
    // The command talks to the terminal directly: it may be an interactive console.
    let status = command.status().map_err(|e| {
        Failure::user(anyhow::anyhow!(
            "cannot run `{}` of app {}: {e}",
            args.command,
            args.app
        ))
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(Failure::user(anyhow::anyhow!(
            "`{}` of app {} {status}",
            args.command,
            args.app
        )))
    }
}
