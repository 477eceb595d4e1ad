//! The SBOM as an SPDX 2.3 JSON document.

use bale_archive::EntryType;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use crate::{Environment, PackageFacts, Role, SbomError};

/// The package's SPDX identifier.
const PACKAGE_ID: &str = "SPDXRef-Package";
/// The stack image's SPDX identifier.
const STACK_ID: &str = "SPDXRef-Stack";

/// The document's bytes: `created` is `SOURCE_DATE_EPOCH`, so the same
/// package over the same environment gives the same bytes.
pub fn document(
    package: &PackageFacts,
    environment: &Environment,
    created: u64,
) -> Result<Vec<u8>, SbomError> {
    crate::to_bytes(&document_json(package, environment, created))
}

/// The document as JSON.
pub fn document_json(package: &PackageFacts, environment: &Environment, created: u64) -> Value {
    let index = &package.index;
    let mut packages = Vec::new();
    let mut files = Vec::new();
    let mut relationships = vec![relationship("SPDXRef-DOCUMENT", "DESCRIBES", PACKAGE_ID)];

    let mut sha1s = Vec::new();
    for (n, record) in index
        .files
        .iter()
        .filter(|r| r.entry_type == EntryType::File)
        .enumerate()
    {
        let id = format!("SPDXRef-File-{}", n + 1);
        let sha1 = package
            .file_sha1
            .get(&record.path)
            .cloned()
            .unwrap_or_default();
        sha1s.push(sha1.clone());
        files.push(json!({
            "SPDXID": id,
            "fileName": format!("./{}", record.path),
            "checksums": [
                {"algorithm": "SHA1", "checksumValue": sha1},
                {"algorithm": "SHA256", "checksumValue": record.sha256.clone().unwrap_or_default()},
            ],
            "licenseConcluded": "NOASSERTION",
            "copyrightText": "NOASSERTION",
        }));
        relationships.push(relationship(PACKAGE_ID, "CONTAINS", &id));
    }

    let (group, name, version) = parts(&index.coordinate);
    let mut main = json!({
        "SPDXID": PACKAGE_ID,
        "name": name,
        "versionInfo": version,
        "packageFileName": package.file_name,
        "supplier": format!("Organization: {group}"),
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": !files.is_empty(),
        "checksums": [{"algorithm": "SHA256", "checksumValue": package.sha256}],
        "externalRefs": [purl_ref(&crate::bale_purl(&index.coordinate))],
        "primaryPackagePurpose": "APPLICATION",
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "comment": format!("bale package {} built for {}", index.coordinate, index.arch()),
    });
    if !files.is_empty() {
        main["packageVerificationCode"] =
            json!({"packageVerificationCodeValue": verification_code(sha1s)});
    }
    if let Some(source) = source_info(package) {
        main["sourceInfo"] = json!(source);
    }
    packages.push(main);

    packages.push(json!({
        "SPDXID": STACK_ID,
        "name": index.stack.name,
        "versionInfo": index.stack.digest,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "OPERATING-SYSTEM",
        "comment": "the bale stack image the package was built on and runs on",
    }));
    relationships.push(relationship(PACKAGE_ID, "DEPENDS_ON", STACK_ID));

    for (n, deb) in environment.packages.iter().enumerate() {
        let id = format!("SPDXRef-Deb-{}-{}", n + 1, spdx_id_part(&deb.name));
        packages.push(json!({
            "SPDXID": id,
            "name": deb.name,
            "versionInfo": deb.version,
            "supplier": "Organization: Debian",
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "externalRefs": [purl_ref(&deb.purl())],
            "primaryPackagePurpose": "LIBRARY",
        }));
        match deb.role {
            Role::Runtime => {
                relationships.push(relationship(&id, "RUNTIME_DEPENDENCY_OF", PACKAGE_ID))
            }
            Role::Stack => relationships.push(relationship(STACK_ID, "CONTAINS", &id)),
            Role::Build => relationships.push(relationship(&id, "BUILD_DEPENDENCY_OF", PACKAGE_ID)),
        }
    }

    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("{}-{}", name, version),
        "documentNamespace": format!("urn:bale:spdx:sha256:{}", package.sha256),
        "creationInfo": {
            "created": crate::time::rfc3339(created),
            "creators": [format!("Tool: bale-{}", env!("CARGO_PKG_VERSION"))],
        },
        "documentDescribes": [PACKAGE_ID],
        "packages": packages,
        "files": files,
        "relationships": relationships,
    })
}

/// `group`, `name`, `version` of a coordinate.
pub(crate) fn parts(coordinate: &str) -> (&str, &str, &str) {
    let mut it = coordinate.splitn(3, ':');
    (
        it.next().unwrap_or_default(),
        it.next().unwrap_or_default(),
        it.next().unwrap_or_default(),
    )
}

/// Where the source came from and its commit, as a sentence.
fn source_info(package: &PackageFacts) -> Option<String> {
    let commit = package.index.source.commit.as_deref();
    match (package.source_location(), commit) {
        (Some(git), Some(commit)) => Some(format!("built from {git} at commit {commit}")),
        (Some(git), None) => Some(format!("built from {git}")),
        (None, Some(commit)) => Some(format!("built from commit {commit}")),
        (None, None) => None,
    }
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({"spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to})
}

fn purl_ref(purl: &str) -> Value {
    json!({"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl})
}

/// SPDX's package verification code: the SHA-1 of the sorted files' SHA-1s.
fn verification_code(mut sha1s: Vec<String>) -> String {
    sha1s.sort();
    let mut hasher = Sha1::new();
    for s in &sha1s {
        hasher.update(s.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// What an SPDX identifier may hold: letters, digits, `.` and `-`.
fn spdx_id_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_verification_code_hashes_the_sorted_file_hashes() {
        // sha1("") = da39…; the code of one empty file is sha1 of that hex.
        let code =
            super::verification_code(vec!["da39a3ee5e6b4b0d3255bfef95601890afd80709".into()]);
        assert_eq!(code, "10a34637ad661d98ba3344717656fcc76209c2f8");
        assert_eq!(super::spdx_id_part("libstdc++6"), "libstdc--6");
    }
}
