//! The three files written beside a package.

use std::path::{Path, PathBuf};

use bale_api::BuildFacts;
use bale_sign::SecretKey;

use crate::{cyclonedx, provenance, spdx, Builder, Envelope, Environment, PackageFacts, SbomError};

/// `<file>.spdx.json`.
pub const SPDX_SUFFIX: &str = ".spdx.json";
/// `<file>.cdx.json`.
pub const CDX_SUFFIX: &str = ".cdx.json";
/// `<file>.intoto.json`.
pub const INTOTO_SUFFIX: &str = ".intoto.json";

/// What [`write_beside`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestations {
    /// The SPDX document.
    pub spdx: PathBuf,
    /// The CycloneDX document.
    pub cyclonedx: PathBuf,
    /// The provenance's DSSE envelope.
    pub provenance: PathBuf,
    /// The key that signed the provenance, when one did.
    pub signed_by: Option<String>,
}

impl Attestations {
    /// The three paths, SPDX, CycloneDX, provenance.
    pub fn paths(&self) -> [&Path; 3] {
        [&self.spdx, &self.cyclonedx, &self.provenance]
    }
}

/// The SPDX, CycloneDX and provenance paths beside `package`.
pub fn attestation_paths(package: &Path) -> [PathBuf; 3] {
    [SPDX_SUFFIX, CDX_SUFFIX, INTOTO_SUFFIX].map(|suffix| {
        let mut name = package.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Writes `<package>.spdx.json`, `.cdx.json` and `.intoto.json`; the
/// provenance is signed with `key` when given, else written with no
/// signature (which `bale verify --provenance` refuses).
pub fn write_beside(
    package: &Path,
    facts: &PackageFacts,
    environment: &Environment,
    build: &BuildFacts,
    builder: &Builder,
    key: Option<&SecretKey>,
) -> Result<Attestations, SbomError> {
    let [spdx_path, cdx_path, intoto_path] = attestation_paths(package);
    let created = build.source_date_epoch;
    write(&spdx_path, &spdx::document(facts, environment, created)?)?;
    write(
        &cdx_path,
        &cyclonedx::document(facts, environment, created)?,
    )?;
    let mut envelope = Envelope::new(&provenance::statement(facts, build, builder)?);
    if let Some(key) = key {
        envelope.sign(key)?;
    }
    write(&intoto_path, &envelope.to_bytes()?)?;
    Ok(Attestations {
        spdx: spdx_path,
        cyclonedx: cdx_path,
        provenance: intoto_path,
        signed_by: key.map(|k| k.key_id().to_string()),
    })
}

/// Signs the provenance beside `package` with `key`, after checking it is
/// about this package; `None` when there is no provenance beside it.
pub fn sign_beside(package: &Path, key: &SecretKey) -> Result<Option<PathBuf>, SbomError> {
    let [_, _, intoto_path] = attestation_paths(package);
    let bytes = match std::fs::read(&intoto_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SbomError::io(&intoto_path, e)),
    };
    let mut envelope = Envelope::from_slice(&bytes)?;
    let statement: serde_json::Value = serde_json::from_slice(&envelope.payload_bytes()?)
        .map_err(|e| SbomError::Malformed(e.to_string()))?;
    let found = statement["subject"][0]["digest"]["sha256"]
        .as_str()
        .unwrap_or_default();
    let expected = crate::facts::sha256_of(package)?;
    if found != expected {
        // Signing would vouch for a statement about another file.
        return Err(SbomError::WrongSubject {
            expected,
            found: found.to_owned(),
        });
    }
    envelope.sign(key)?;
    write(&intoto_path, &envelope.to_bytes()?)?;
    Ok(Some(intoto_path))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), SbomError> {
    bale_fs::write_atomic(path, bytes).map_err(|e| SbomError::io(path, e.source))
}

/// Checks the provenance beside `package` against `ring` and the package's
/// SHA-256; `None` when there is no provenance beside it.
pub fn verify_beside(
    package: &Path,
    ring: &bale_sign::Keyring,
) -> Result<Option<crate::VerifiedProvenance>, SbomError> {
    let [_, _, intoto_path] = attestation_paths(package);
    let bytes = match std::fs::read(&intoto_path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SbomError::io(&intoto_path, e)),
    };
    let envelope = Envelope::from_slice(&bytes)?;
    let sha256 = crate::facts::sha256_of(package)?;
    envelope.verify(ring, &sha256).map(Some)
}
