//! `bale uninstall APP`: pre-deinstall, stop, remove, post-deinstall.

use crate::cli::UninstallArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: UninstallArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    bale_app::uninstall(
        machine.home()?,
        &args.app,
        super::deploy::wait(args.wait),
        machine.isolation()?,
        &|verb, text| printer.status(verb, text),
    )?;
    if printer.json() {
        return printer.print_json(&serde_json::json!({ "app": args.app, "uninstalled": true }));
    }
    printer.status(
        "Uninstalled",
        format!("{} (its installed packages stay in the store)", args.app),
    );
    Ok(())
}
