//! `bale system install-units [--dir DIR] [--dry-run]`: systemd units for this machine.

use anyhow::Context;

use crate::cli::SystemCommand;
use crate::exit::{Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(command: SystemCommand, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let SystemCommand::InstallUnits { dir, dry_run } = command;
    let bale = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("finding this bale binary's path")
        .internal()?;
    let home = machine.home()?.root();
    let home = std::path::absolute(home)
        .with_context(|| format!("making {} absolute", home.display()))
        .internal()?;
    let units = bale_app::units(&bale, &home)?;
    if dry_run {
        if printer.json() {
            let list: Vec<_> = units
                .iter()
                .map(|u| serde_json::json!({ "path": dir.join(u.name), "text": u.text }))
                .collect();
            return printer.print_json(&list);
        }
        for unit in &units {
            printer.line(format!("# {}", dir.join(unit.name).display()));
            printer.line(&unit.text);
        }
        return Ok(());
    }
    let written = bale_app::install_units(&units, &dir)?;
    if printer.json() {
        return printer.print_json(&written);
    }
    for path in &written {
        printer.status("Wrote", path.display());
    }
    let names: Vec<&str> = units.iter().map(|u| u.name).collect();
    printer.status(
        "Next",
        format!(
            "systemctl daemon-reload && systemctl enable --now {}",
            names.join(" ")
        ),
    );
    Ok(())
}
