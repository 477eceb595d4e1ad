//! `bale export oci|deb|apk PACKAGE`: one package in the formats other
//! platforms take (docs/exports.md). One module per format.

mod apk;
mod deb;
mod oci;

use std::path::PathBuf;

use anyhow::Context;
use bale_app::PackageRef;
use bale_export::{Package, Written};

use crate::cli::{ExportCommand, ExportTarget};
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(command: ExportCommand, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    match command {
        ExportCommand::Oci(args) => oci::run(args, machine, printer),
        ExportCommand::Deb(args) => deb::run(args, machine, printer),
        ExportCommand::Apk(args) => apk::run(args, machine, printer),
    }
}

/// The package an export is made from, opened; a coordinate is fetched
/// from the repository first (the scratch directory lives as long as the
/// returned guard).
fn open(
    target: &ExportTarget,
    machine: &Machine,
    printer: &Printer,
) -> Result<(Option<tempfile::TempDir>, Package), Failure> {
    let (scratch, path) = match super::deploy::package_ref(&target.package)? {
        PackageRef::File(path) => (None, path),
        PackageRef::Installed(coordinate) => {
            let (scratch, archive) =
                super::repo::fetch_for_install(machine, &coordinate, target.repo.clone(), printer)?;
            (Some(scratch), archive)
        }
    };
    let package = Package::open(&path).with_context(|| format!("opening {}", path.display()))?;
    Ok((scratch, package))
}

/// The output directory: `-o DIR`, else the current directory.
fn out_dir(target: &ExportTarget) -> PathBuf {
    target.out.clone().unwrap_or_else(|| PathBuf::from("."))
}

/// Prints what an export wrote: a line each, or JSON.
fn report(written: &[Written], printer: &Printer) -> Result<(), Failure> {
    if printer.json() {
        let files: Vec<_> = written
            .iter()
            .map(|w| serde_json::json!({"path": w.path, "digest": w.digest, "size": w.size}))
            .collect();
        return printer.print_json(&serde_json::json!({ "written": files }));
    }
    for w in written {
        printer.status("Wrote", format!("{} ({})", w.path.display(), w.digest));
    }
    Ok(())
}
