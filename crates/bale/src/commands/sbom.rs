//! The SBOMs and signed provenance `bale build` writes beside a package,
//! and `bale verify --provenance` (docs/sbom.md).

use std::path::Path;

use anyhow::Context;
use bale_home::{env, Home};
use bale_sbom::{Builder, Environment, PackageFacts, VerifiedProvenance};
use bale_sign::{Keyring, SecretKey};
use bale_stack::StackImage;

use crate::exit::{refuse, Failure};

/// Writes `<package>.spdx.json`, `.cdx.json` and `.intoto.json` for a
/// finished build, the provenance signed with `key` when there is one.
pub fn write_for_build(
    home: &Home,
    built: &bale_build::Built,
    stack: &StackImage,
    layers_dir: Option<&Path>,
    key: Option<&SecretKey>,
) -> Result<bale_sbom::Attestations, Failure> {
    let package = &built.package.path;
    let facts = PackageFacts::read(package, &home.tmp_dir())?;
    let layer_dir = match (layers_dir, &built.facts.layer) {
        (Some(dir), Some(key)) => Some(dir.join(key)),
        _ => None,
    };
    let stack_packages = installed(&stack.root)?;
    let layer_packages = match &layer_dir {
        Some(dir) => installed(dir)?,
        None => Vec::new(),
    };
    let environment = Environment::from_lists(
        &stack_packages,
        &layer_packages,
        &facts.index.dependencies,
        facts.index.arch(),
    );
    let builder = Builder {
        id: env::non_blank(env::BALE_BUILDER_ID)
            .unwrap_or_else(|| bale_sbom::provenance::LOCAL_BUILDER.to_owned()),
        invocation_id: env::non_blank(env::BALE_BUILD_INVOCATION),
    };
    Ok(bale_sbom::write_beside(
        package,
        &facts,
        &environment,
        &built.facts,
        &builder,
        key,
    )?)
}

/// The packages of the dpkg database under `root` (none when it has none).
fn installed(root: &Path) -> Result<Vec<bale_sbom::InstalledPackage>, Failure> {
    let Some(db) = bale_layer::DpkgDatabase::of_root(root) else {
        return Ok(Vec::new());
    };
    let packages = db
        .packages()
        .with_context(|| format!("reading the dpkg database under {}", root.display()))?;
    Ok(packages
        .into_iter()
        .map(|p| bale_sbom::InstalledPackage {
            name: p.name,
            version: p.version,
            arch: p.arch,
        })
        .collect())
}

/// Checks `<package>.intoto.json` against the machine's trusted keys and the package's digest.
pub fn verify_provenance(home: &Home, package: &Path) -> Result<VerifiedProvenance, Failure> {
    let ring = Keyring::load(&home.trusted_keys_dir())?;
    match bale_sbom::verify_beside(package, &ring)? {
        Some(verified) => Ok(verified),
        None => {
            let [_, _, intoto] = bale_sbom::attestation_paths(package);
            refuse!(
                "{} has no provenance ({} is missing): `bale build` writes it beside the package, and the repository serves it beside the package's file",
                package.display(),
                intoto.display()
            )
        }
    }
}
