//! `bale export oci`: the image of a package, from the stack image and the
//! runtime layer this machine has (made as a deploy makes it, if missing),
//! and with `--push` sent to a registry.

use anyhow::Context;
use bale_export::oci::{self, Credentials, ImageName};

use crate::cli::ExportOciArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: ExportOciArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    // Read before any work: a bad target or credentials fail at once.
    let target = args
        .push
        .as_deref()
        .map(ImageName::parse_target)
        .transpose()?;
    let credentials = match &target {
        Some(_) => Credentials::from_env()?,
        None => None,
    };
    let (_scratch, package) = super::open(&args.target, machine, printer)?;
    let manifest = package.manifest();
    let home = machine.home()?;
    let progress = |verb: &str, what: &str| printer.status(verb, what);
    let base = bale_app::runtime_layers(home, manifest, package.root(), &progress)
        .context("finding the stack image and runtime layer the image is made of")?;
    let out = args.target.out.clone().unwrap_or_else(|| {
        std::path::PathBuf::from(format!(
            "{}-{}.oci",
            manifest.package.name, manifest.package.version
        ))
    });
    let options = oci::Options {
        out,
        tag: args.tag.clone(),
        base,
    };
    printer.status(
        "Exporting",
        format!("{} as an OCI image", package.index().coordinate),
    );
    let image = oci::export_image(&package, &options)?;
    let Some(target) = target else {
        if printer.json() {
            return printer.print_json(&serde_json::json!({
                "layout": image.layout,
                "name": image.name.to_string(),
                "digest": image.manifest_digest,
            }));
        }
        printer.status(
            "Wrote",
            format!(
                "{} ({}, {})",
                image.layout.display(),
                image.name,
                image.manifest_digest
            ),
        );
        return Ok(());
    };
    printer.status("Pushing", target.to_string());
    let pushed = machine.runtime()?.block_on(oci::push(
        &image.layout,
        &image.name.tag,
        &target,
        credentials.as_ref(),
    ))?;
    if printer.json() {
        return printer.print_json(&serde_json::json!({
            "layout": image.layout,
            "name": image.name.to_string(),
            "digest": image.manifest_digest,
            "pushed": pushed.reference,
            "uploaded": pushed.uploaded,
            "present": pushed.present,
        }));
    }
    printer.status(
        "Wrote",
        format!(
            "{} ({}, {})",
            image.layout.display(),
            image.name,
            image.manifest_digest
        ),
    );
    printer.status(
        "Pushed",
        format!(
            "{} ({}; {} blobs uploaded, {} already there)",
            pushed.reference, pushed.digest, pushed.uploaded, pushed.present
        ),
    );
    Ok(())
}
