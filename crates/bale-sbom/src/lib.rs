//! What a built package is made of and how it was made, in the formats
//! other tools read: an SBOM as SPDX 2.3 ([`spdx`]) and CycloneDX 1.6
//! ([`cyclonedx`]), and an in-toto statement with a SLSA provenance v1
//! predicate ([`provenance`]) in a DSSE envelope ([`dsse`]) signed with the
//! build's key. All three are written beside the package as
//! `<file>.spdx.json`, `<file>.cdx.json` and `<file>.intoto.json`
//! (docs/sbom.md).
//!
//! The SBOMs depend only on the package and the packages it was built over,
//! with `SOURCE_DATE_EPOCH` as their time: the same package gives the same bytes.

pub mod cyclonedx;
pub mod dsse;
mod environment;
mod error;
mod facts;
pub mod provenance;
pub mod spdx;
mod time;
mod write;

pub use dsse::{Envelope, EnvelopeSignature, VerifiedProvenance};
pub use environment::{DebianPackage, Environment, InstalledPackage, Role};
pub use error::SbomError;
pub use facts::{public_source, PackageFacts};
pub use provenance::Builder;
pub use write::{
    attestation_paths, sign_beside, verify_beside, write_beside, Attestations, CDX_SUFFIX,
    INTOTO_SUFFIX, SPDX_SUFFIX,
};

/// `pkg:bale/<group>/<name>@<version>`, the package's purl.
pub fn bale_purl(coordinate: &str) -> String {
    let mut parts = coordinate.splitn(3, ':');
    let (group, name, version) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    format!(
        "pkg:bale/{}/{}@{}",
        purl_escape(group),
        purl_escape(name),
        purl_escape(version)
    )
}

/// Percent-encodes what a purl component may not hold as it is.
pub(crate) fn purl_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The JSON bytes every file here is written as: pretty, keys in a fixed
/// order, a trailing newline.
pub(crate) fn to_bytes(value: &serde_json::Value) -> Result<Vec<u8>, SbomError> {
    let mut bytes = serde_json::to_vec_pretty(&sorted(value))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// `value` with every object's keys sorted, whatever map serde_json was built with.
fn sorted(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&map[k]));
            }
            serde_json::Value::Object(out)
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_purl_names_group_name_and_version_with_odd_characters_escaped() {
        assert_eq!(
            super::bale_purl("org.example:hello:1.0+git2"),
            "pkg:bale/org.example/hello@1.0%2Bgit2"
        );
    }
}
