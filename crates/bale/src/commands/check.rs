//! `bale check [DIR]`: validate bale.toml, every error at once.

use std::path::{Path, PathBuf};

use bale_manifest::{Catalog, Manifest, ParseOptions};

use crate::cli::CheckArgs;
use crate::exit::{refuse, Failure};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: CheckArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let path = manifest_path(&args.dir);
    let manifest = load(&path, machine.catalog()?, printer)?;
    let coordinate = manifest.coordinate()?;
    if printer.json() {
        return printer.print_json(&serde_json::json!({
            "ok": true, "path": path, "coordinate": coordinate.to_string(),
            "stack": manifest.stack.name, "kind": manifest.kind(),
        }));
    }
    let kind = manifest.kind().unwrap_or("none");
    printer.status(
        "Checked",
        format!(
            "{} — {coordinate}, stack {}, kind {kind}",
            path.display(),
            manifest.stack.name
        ),
    );
    Ok(())
}

/// `DIR/bale.toml`, or the path itself when it names a file.
pub fn manifest_path(dir: &Path) -> PathBuf {
    if dir.is_file() {
        dir.to_path_buf()
    } else {
        dir.join("bale.toml")
    }
}

/// Reads and validates a manifest against `catalog` (the machine's stacks
/// and kinds), printing every diagnostic on failure.
pub fn load(path: &Path, catalog: &Catalog, printer: &Printer) -> Result<Manifest, Failure> {
    if !path.is_file() {
        refuse!(
            "no bale.toml at {}: run `bale init` to write one",
            path.display()
        );
    }
    match Manifest::from_path(path, catalog, &ParseOptions::default()) {
        Ok(m) => Ok(m.resolved(&catalog.kinds)),
        Err(diagnostics) => {
            if printer.json() {
                printer.print_json(&serde_json::json!({
                    "ok": false, "path": path, "errors": diagnostics.located(),
                }))?;
            } else {
                printer.raw_stderr(diagnostics.render(printer.colour()).trim_end());
            }
            Err(Failure::reported(anyhow::anyhow!(
                "{} has {} error(s)",
                path.display(),
                diagnostics.len()
            )))
        }
    }
}
