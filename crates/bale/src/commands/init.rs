//! `bale init [DIR]`: write a starting bale.toml.

use std::fs;

use anyhow::Context;

use crate::cli::InitArgs;
use crate::exit::{refuse, Failure};
use crate::printer::Printer;

pub fn run(args: InitArgs, printer: &Printer) -> Result<(), Failure> {
    if !args.dir.is_dir() {
        refuse!("{} is not a directory", args.dir.display());
    }
    let path = args.dir.join("bale.toml");
    if path.exists() && !args.force {
        refuse!(
            "{} already exists: edit it, or pass --force to replace it",
            path.display()
        );
    }
    let kind = bale_manifest::detect_kind(&args.dir);
    let text = bale_manifest::starter_manifest(&args.dir);
    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    if printer.json() {
        return printer.print_json(&serde_json::json!({ "path": path, "kind": kind }));
    }
    printer.status("Created", format!("{} (kind {kind})", path.display()));
    printer.line(format!(
        "next: edit it, then `bale check {}`",
        args.dir.display()
    ));
    Ok(())
}
