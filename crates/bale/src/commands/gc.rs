//! `bale gc [--dry-run]`: remove installed packages that no kept deployment uses.

use crate::cli::GcArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

use super::inspect::human_bytes;

pub fn run(args: GcArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let report = bale_app::collect_garbage(machine.home()?, args.dry_run)?;
    if printer.json() {
        return printer.print_json(&report);
    }
    let verb = if report.dry_run {
        "Would remove"
    } else {
        "Removed"
    };
    for package in &report.removed {
        printer.status(
            verb,
            format!(
                "{} ({}, {})",
                package.coordinate,
                package.dir.display(),
                human_bytes(package.bytes)
            ),
        );
    }
    let freed = human_bytes(report.freed_bytes);
    let summary = match (report.removed.len(), report.dry_run) {
        (0, _) => format!(
            "nothing to remove: every installed package ({}) is used by a kept deployment",
            report.kept.len()
        ),
        (n, true) => {
            format!("{n} unused package(s) would free {freed}; run `bale gc` to remove them")
        }
        (n, false) => format!("{n} unused package(s), {freed} freed"),
    };
    printer.status(if report.dry_run { "Dry run" } else { "Done" }, summary);
    Ok(())
}
