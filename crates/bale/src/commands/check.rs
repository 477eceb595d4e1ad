//! `bale check [DIR]`: validate bale.toml, every error at once.

use std::path::{Path, PathBuf};

use bale_home::Home;
use bale_manifest::{Catalog, Kinds, Manifest, ParseOptions};
use bale_stack::Stacks;

use crate::cli::CheckArgs;
use crate::exit::Failure;
use crate::printer::Printer;

pub fn run(args: CheckArgs, printer: &Printer) -> Result<(), Failure> {
    let path = manifest_path(&args.dir);
    let manifest = load(&path, printer)?;
    let coordinate = manifest.coordinate().map_err(|e| Failure::user(e.into()))?;
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

/// This machine's stacks, as `$BALE_HOME/stacks.toml` has them over the shipped ones.
pub fn machine_stacks(home: &Home) -> Result<Stacks, Failure> {
    Stacks::load(home, None).map_err(|e| Failure::user(e.into()))
}

/// The stacks and kinds a manifest may name on this machine: `stacks`, and
/// the kinds of `$BALE_HOME/kinds.toml` over the shipped ones.
pub fn machine_catalog(home: &Home, stacks: &Stacks) -> Result<Catalog, Failure> {
    let kinds = Kinds::load_if_present(&home.kinds_path()).map_err(|e| Failure::user(e.into()))?;
    Ok(Catalog::new(stacks.names(), kinds))
}

/// Reads and validates a manifest against this machine's stacks and kinds,
/// printing every diagnostic on failure.
pub fn load(path: &Path, printer: &Printer) -> Result<Manifest, Failure> {
    let home = super::home()?;
    let catalog = machine_catalog(&home, &machine_stacks(&home)?)?;
    load_with(path, &catalog, printer)
}

/// Reads and validates a manifest against `catalog`, printing every
/// diagnostic on failure.
pub fn load_with(path: &Path, catalog: &Catalog, printer: &Printer) -> Result<Manifest, Failure> {
    if !path.is_file() {
        return Err(Failure::user(anyhow::anyhow!(
            "no bale.toml at {}: run `bale init` to write one",
            path.display()
        )));
    }
    match Manifest::from_path(path, catalog, &ParseOptions::default()) {
        Ok(m) => Ok(m.resolved(&catalog.kinds)),
        Err(diagnostics) => {
            if printer.json() {
                let _ = printer.print_json(&serde_json::json!({
                    "ok": false, "path": path, "errors": diagnostics.located(),
                }));
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
