//! `bale pack ROOT --manifest FILE`: pack a prepared package root.

use bale_archive::{SourceRef, StackRef};
use bale_build::{pack, PackRequest};

use crate::cli::PackArgs;
use crate::exit::{refuse, Failure};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: PackArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    if !args.root.is_dir() {
        refuse!(
            "{} is not a directory (the prepared package root)",
            args.root.display()
        );
    }
    let stacks = machine.stacks()?;
    let manifest = super::check::load(&args.manifest, machine.catalog()?, printer)?;
    // Load the key before the work, so a missing key fails fast.
    let key = match &args.key {
        Some(k) => Some(super::key::load_secret_key(machine.home()?, Some(k))?),
        None => None,
    };
    // The stack's image, when this machine has it (`host` always), names the
    // digest and maps needed libraries to its Debian packages.
    let image = stacks.image(&manifest.stack.name).ok();
    let spinner = printer.spinner(&format!("packing {}", args.root.display()));
    let packed = pack(&PackRequest {
        root: &args.root,
        manifest: &manifest,
        stack: StackRef {
            name: manifest.stack.name.clone(),
            digest: image.as_ref().map(|i| i.digest.clone()).unwrap_or_default(),
        },
        environment: image.iter().map(|i| i.root.clone()).collect(),
        require_resolved: false,
        source: SourceRef::default(),
        mtime: args.source_date_epoch,
        out_dir: &args.output,
        arch: None,
    });
    spinner.finish_and_clear();
    let packed = packed?;
    let signature = match &key {
        Some(key) => Some(super::key::sign_file(key, &packed.path)?),
        None => None,
    };
    if printer.json() {
        return printer.print_json(&serde_json::json!({
            "path": packed.path, "coordinate": packed.written.index.coordinate,
            "sha256": packed.written.sha256, "size": packed.written.size,
            "installed_size": packed.written.index.installed_size,
            "files": packed.written.index.files.len(),
            "signature": signature, "generated_scripts": packed.generated_scripts,
            "unresolved_libraries": packed.unresolved_libraries,
        }));
    }
    printer.status(
        "Packed",
        format!(
            "{} ({} files, {} → {})",
            packed.path.display(),
            packed.written.index.files.len(),
            super::inspect::human_bytes(packed.written.index.installed_size),
            super::inspect::human_bytes(packed.written.size)
        ),
    );
    printer.line(format!("sha256:{}", packed.written.sha256));
    if let Some(sig) = signature {
        printer.status("Signed", sig.display());
    }
    if !packed.unresolved_libraries.is_empty() {
        printer.warn(format!(
            "no stack package found for needed libraries: {}",
            packed.unresolved_libraries.join(", ")
        ));
    }
    Ok(())
}
