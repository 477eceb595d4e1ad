//! `bale build [DIR]`: a sandboxed build into OUT/NAME-VERSION-ARCH.bale, with
//! its facts in OUT/NAME-VERSION.build.json and its SBOMs and provenance
//! beside it (docs/sbom.md).

use std::path::Path;

use bale_build::{BuildEvent, BuildRequest, Builder};

use crate::cli::BuildArgs;
use crate::exit::{refuse, Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

/// Removes the kept environments whose time is up; a failure here only warns.
fn remove_expired_environments(failed_dir: &Path, printer: &Printer) {
    let Ok(entries) = std::fs::read_dir(failed_dir) else {
        return;
    };
    let now = bale_fs::now_secs();
    for entry in entries.flatten() {
        let expired = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|until| until <= now);
        if expired {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                printer.warn(format!(
                    "cannot remove the expired build environment {}: {e}",
                    entry.path().display()
                ));
            }
        }
    }
}

pub fn run(args: BuildArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let home = machine.home()?;
    let stacks = machine.stacks()?;
    // The admin's stacks and kinds are what a manifest may name here.
    let catalog = machine.catalog()?;
    let kinds = catalog.kinds.clone();
    let manifest_path = super::check::manifest_path(&args.dir);
    let manifest = super::check::load(&manifest_path, catalog, printer)?;
    let source_dir = manifest_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The facts name the source; a relative path would mean nothing later.
    let source_dir = &source_dir
        .canonicalize()
        .unwrap_or_else(|_| source_dir.to_path_buf());
    // Load the key before the work, so a missing key fails fast.
    let key = match &args.key {
        Some(k) => Some(super::key::load_secret_key(home, Some(k))?),
        None => None,
    };
    // The manifest names the stack; the architecture is chosen here.
    let stacks = match &args.arch {
        Some(arch) => stacks.clone().with_arch(arch)?,
        None => stacks.clone(),
    };
    let image = stacks.image(&manifest.stack.name)?;
    let host = image.root == Path::new("/");
    let layers_dir = (!host).then(|| stacks.layers_dir(&image.name));
    let request = BuildRequest {
        source_dir,
        manifest: &manifest,
        stack: &image,
        layers_dir: layers_dir.as_deref(),
        out_dir: &args.output,
        scratch_dir: &home.tmp_dir(),
        cache_dir: &home.cache_dir(),
        // Over the host's own root the sandbox would see $BALE_HOME, and the signing keys in it.
        hide: if host {
            vec![home.root().to_path_buf()]
        } else {
            Vec::new()
        },
        fresh: args.fresh,
        verbose: args.verbose,
        arch: None,
    };
    printer.status(
        "Building",
        format!(
            "{} on stack {} ({})",
            manifest.coordinate()?,
            image.name,
            image.arch
        ),
    );
    let verbose = args.verbose;
    let mut events = |event: BuildEvent<'_>| match event {
        BuildEvent::StepStarted { step } => printer.status("Step", step),
        BuildEvent::Output { step, line } => printer.status(&format!("[{step}]"), line),
        BuildEvent::StepFinished {
            step,
            duration_ms,
            ok,
        } => {
            if !ok {
                printer.status("Failed", format!("{step} after {duration_ms} ms"));
            } else if verbose {
                printer.status("Done", format!("{step} in {duration_ms} ms"));
            }
        }
        BuildEvent::Note(text) => {
            if verbose {
                printer.status("Note", text);
            }
        }
    };
    // An image that drifted from its record is sanitized before it is used.
    let mut builder = Builder::new()?
        .with_kinds(kinds)
        .checking_stacks(stacks.clone());
    // One directory per expiry time (seconds since the epoch), removed by
    // the first build after it.
    let failed_dir = home.failed_dir();
    remove_expired_environments(&failed_dir, printer);
    if let Some(minutes) = args.keep_failed {
        let until = bale_fs::now_secs() + minutes.saturating_mul(60);
        builder = builder.keeping_failed(failed_dir.join(until.to_string()));
    }
    let built = builder.build(&request, &mut events)?;
    if args.check {
        let again_dir = tempfile::Builder::new()
            .prefix("check-")
            .tempdir_in(request.scratch_dir)
            .internal()?;
        printer.status(
            "Checking",
            "building a second time, with another build path, host name and umask, to compare",
        );
        let again = BuildRequest {
            out_dir: again_dir.path(),
            ..request.clone()
        };
        let second = builder.varied().build(&again, &mut events)?;
        compare(&built.package, &second.package)?;
        printer.status(
            "Reproduced",
            format!("sha256:{}", built.package.written.sha256),
        );
    }
    let signature = match &key {
        Some(key) => Some(super::key::sign_file(key, &built.package.path)?),
        None => None,
    };
    // Outside the sandbox, like the signature: the key never enters it.
    let attestations =
        super::sbom::write_for_build(home, &built, &image, layers_dir.as_deref(), key.as_ref())?;
    if printer.json() {
        return printer.print_json(&bale_api::BuildOutput {
            path: built.package.path.clone(),
            facts: built.facts_path.clone(),
            signature,
            attestations: attestations
                .paths()
                .iter()
                .map(|p| p.to_path_buf())
                .collect(),
            build: built.facts.clone(),
        });
    }
    printer.status(
        "Built",
        format!(
            "{} ({} files, {} → {}) in {:.1}s",
            built.package.path.display(),
            built.package.written.index.files.len(),
            super::inspect::human_bytes(built.package.written.index.installed_size),
            super::inspect::human_bytes(built.package.written.size),
            built.facts.duration_ms as f64 / 1000.0
        ),
    );
    printer.line(format!("sha256:{}", built.package.written.sha256));
    printer.status("Facts", built.facts_path.display());
    if let Some(sig) = signature {
        printer.status("Signed", sig.display());
    }
    printer.status(
        "SBOM",
        format!(
            "{}, {}",
            attestations.spdx.display(),
            attestations.cyclonedx.display()
        ),
    );
    match &attestations.signed_by {
        Some(id) => printer.status(
            "Provenance",
            format!("{} (signed by {id})", attestations.provenance.display()),
        ),
        None => printer.status(
            "Provenance",
            format!(
                "{} (unsigned: build with --key, or run `bale sign`, to sign it)",
                attestations.provenance.display()
            ),
        ),
    }
    if !built.package.unresolved_libraries.is_empty() {
        printer.warn(format!(
            "no stack package found for needed libraries: {}",
            built.package.unresolved_libraries.join(", ")
        ));
    }
    Ok(())
}

/// Fails unless two builds of one source gave the same bytes, naming the
/// files whose content or mode differ.
fn compare(first: &bale_build::Packed, second: &bale_build::Packed) -> Result<(), Failure> {
    if first.written.sha256 == second.written.sha256 {
        return Ok(());
    }
    let theirs: std::collections::BTreeMap<&str, _> = second
        .written
        .index
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    let ours: std::collections::BTreeMap<&str, _> = first
        .written
        .index
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    let mut differing: Vec<&str> = ours
        .iter()
        .filter(|(p, f)| theirs.get(*p) != Some(*f))
        .map(|(p, _)| *p)
        .collect();
    differing.extend(theirs.keys().filter(|p| !ours.contains_key(*p)));
    differing.sort();
    let listed = if differing.is_empty() {
        "the archive's metadata".to_string()
    } else {
        differing.join(", ")
    };
    refuse!(
        "the build is not reproducible: two builds gave sha256:{} and sha256:{}; differing: {listed}",
        first.written.sha256,
        second.written.sha256
    )
}
