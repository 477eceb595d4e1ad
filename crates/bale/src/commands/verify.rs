//! `bale verify FILE.bale | COORDINATE`: every hash, and the signature
//! (and with `--provenance`, the signed provenance beside the file).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bale_app::PackageRef;
use bale_coordinate::Coordinate;
use bale_store::Store;

use bale_home::Home;
use bale_sign::Keyring;

use crate::cli::VerifyArgs;
use crate::exit::{refuse, Failure};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: VerifyArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let home = machine.home()?;
    match super::deploy::package_ref(&args.target)? {
        PackageRef::File(path) => {
            verify_file(home, &path, args.allow_unsigned, args.provenance, printer)
        }
        PackageRef::Installed(_) if args.provenance => refuse!(
            "--provenance checks a package file and the FILE.intoto.json beside it: give the .bale file with its .intoto.json beside it"
        ),
        PackageRef::Installed(coordinate) => verify_installed(home.clone(), &coordinate, printer),
    }
}

/// The signature's state for a package file.
pub enum SignatureState {
    /// Verified by a trusted key with this id.
    Trusted(String),
    /// No `.minisig` beside the file.
    Missing(PathBuf),
}

/// Checks `FILE.minisig` against the machine's trusted keys.
pub fn check_signature(home: &Home, file: &Path) -> Result<SignatureState, Failure> {
    let context = || format!("reading the signature of {}", file.display());
    let Some(signature) = bale_sign::read_signature(file).with_context(context)? else {
        return Ok(SignatureState::Missing(bale_sign::signature_path(file)));
    };
    let ring = Keyring::load(&home.trusted_keys_dir())?;
    let data = File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let key = ring
        .verify(data, &signature)
        .with_context(|| format!("signature of {} does not verify", file.display()))?;
    Ok(SignatureState::Trusted(key.key_id().to_string()))
}

fn verify_file(
    home: &Home,
    path: &Path,
    allow_unsigned: bool,
    provenance: bool,
    printer: &Printer,
) -> Result<(), Failure> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let index = bale_archive::verify(file, &bale_archive::Limits::default())
        .with_context(|| format!("{} does not verify", path.display()))?;
    let signature = check_signature(home, path)?;
    let signed_by = match &signature {
        SignatureState::Trusted(id) => Some(id.clone()),
        SignatureState::Missing(sig) if !allow_unsigned => {
            refuse!(
                "{} has no signature ({} is missing): sign it with `bale sign`, or pass --allow-unsigned to check hashes only",
                path.display(),
                sig.display()
            )
        }
        SignatureState::Missing(_) => None,
    };
    let provenance = if provenance {
        Some(super::sbom::verify_provenance(home, path)?)
    } else {
        None
    };
    if printer.json() {
        let provenance = provenance.map(|p| {
            serde_json::json!({"signed_by": p.key_id, "subject": p.subject, "builder": p.builder_id})
        });
        return printer.print_json(&serde_json::json!({
            "ok": true, "coordinate": index.coordinate, "files": index.files.len(), "signed_by": signed_by,
            "provenance": provenance,
        }));
    }
    printer.status(
        "Verified",
        format!(
            "{} — {}, {} entries",
            path.display(),
            index.coordinate,
            index.files.len()
        ),
    );
    match signed_by {
        Some(id) => printer.line(format!("signature: good, trusted key {id}")),
        None => printer.line("signature: none (hashes only)"),
    }
    if let Some(p) = provenance {
        printer.line(format!(
            "provenance: good, trusted key {}, subject {}, builder {}",
            p.key_id, p.subject, p.builder_id
        ));
    }
    Ok(())
}

fn verify_installed(home: Home, coordinate: &Coordinate, printer: &Printer) -> Result<(), Failure> {
    let report = Store::new(home).verify(coordinate)?;
    if printer.json() {
        let findings: Vec<_> = report
            .findings
            .iter()
            .map(|f| serde_json::json!({"path": f.path, "problem": f.to_string()}))
            .collect();
        printer.print_json(&serde_json::json!({ "ok": report.is_clean(), "coordinate": coordinate.to_string(), "findings": findings }))?;
    } else if report.is_clean() {
        printer.status(
            "Verified",
            format!("{coordinate}: every installed file matches its index"),
        );
    } else {
        for finding in &report.findings {
            printer.line(finding);
        }
    }
    if report.is_clean() {
        Ok(())
    } else {
        let n = report.findings.len();
        let err = anyhow::anyhow!(
            "{coordinate}: {n} path(s) differ from the package: {}",
            report.paths().join(", ")
        );
        Err(if printer.json() {
            Failure::reported(err)
        } else {
            Failure::from(err)
        })
    }
}
