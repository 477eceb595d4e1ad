//! `bale uninstall APP`: pre-deinstall, stop, remove, post-deinstall.

use crate::cli::UninstallArgs;
use crate::exit::Failure;
use crate::printer::Printer;

pub fn run(args: UninstallArgs, printer: &Printer) -> Result<(), Failure> {
    let home = super::home()?;
    bale_app::uninstall(
        &home,
        &args.app,
        super::deploy::wait(args.wait),
        super::deploy::machine_isolation(&home)?,
        &|verb, text| printer.status(verb, text),
    )
    .map_err(super::deploy::failure)?;
    if printer.json() {
        return printer.print_json(&serde_json::json!({ "app": args.app, "uninstalled": true }));
    }
    printer.status(
        "Uninstalled",
        format!("{} (its installed packages stay in the store)", args.app),
    );
    Ok(())
}
