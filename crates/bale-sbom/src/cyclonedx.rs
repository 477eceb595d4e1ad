//! The SBOM as a CycloneDX 1.6 JSON document: the same facts as [`crate::spdx`].

use bale_archive::EntryType;
use serde_json::{json, Value};

use crate::spdx::parts;
use crate::{Environment, PackageFacts, Role, SbomError};

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
    let (group, name, version) = parts(&index.coordinate);
    let purl = crate::bale_purl(&index.coordinate);
    let stack_ref = format!("stack:{}", index.stack.name);

    let mut properties = vec![
        property("bale:coordinate", &index.coordinate),
        property("bale:arch", index.arch()),
        property("bale:stack", &index.stack.name),
        property("bale:stack-digest", &index.stack.digest),
    ];
    if let Some(source) = package.source_location() {
        properties.push(property("bale:source", &source));
    }
    if let Some(commit) = &index.source.commit {
        properties.push(property("bale:source-commit", commit));
    }
    let mut main = json!({
        "type": "application",
        "bom-ref": purl,
        "group": group,
        "name": name,
        "version": version,
        "purl": purl,
        "hashes": [{"alg": "SHA-256", "content": package.sha256}],
        "properties": properties,
    });

    // The package's files are nested in it: CycloneDX's way to say it contains them.
    let mut files = Vec::new();
    for record in index
        .files
        .iter()
        .filter(|r| r.entry_type == EntryType::File)
    {
        let file_ref = format!("file:{}", record.path);
        let sha1 = package
            .file_sha1
            .get(&record.path)
            .cloned()
            .unwrap_or_default();
        files.push(json!({
            "type": "file",
            "bom-ref": file_ref,
            "name": record.path,
            "hashes": [
                {"alg": "SHA-1", "content": sha1},
                {"alg": "SHA-256", "content": record.sha256.clone().unwrap_or_default()},
            ],
        }));
    }
    main["components"] = json!(files);
    let mut components = vec![json!({
        "type": "operating-system",
        "bom-ref": stack_ref,
        "name": index.stack.name,
        "version": index.stack.digest,
        "description": "the bale stack image the package was built on and runs on",
    })];
    let mut runtime = vec![stack_ref.clone()];
    let mut stack_members = Vec::new();
    for deb in &environment.packages {
        let purl = deb.purl();
        components.push(json!({
            "type": "library",
            "bom-ref": purl,
            "publisher": "Debian",
            "name": deb.name,
            "version": deb.version,
            "purl": purl,
            // Build tools are not part of what is shipped or run.
            "scope": if deb.role == Role::Build { "excluded" } else { "required" },
            "properties": [property("bale:role", deb.role.as_str())],
        }));
        match deb.role {
            Role::Runtime => runtime.push(purl),
            Role::Stack => stack_members.push(purl),
            Role::Build => {}
        }
    }
    let mut dependencies = vec![
        json!({"ref": crate::bale_purl(&index.coordinate), "dependsOn": runtime}),
        json!({"ref": stack_ref, "dependsOn": stack_members}),
    ];
    dependencies.extend(
        environment
            .packages
            .iter()
            .filter(|d| d.role != Role::Stack)
            .map(|d| json!({"ref": d.purl(), "dependsOn": []})),
    );

    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial_number(&package.sha256),
        "version": 1,
        "metadata": {
            "timestamp": crate::time::rfc3339(created),
            "tools": {"components": [{
                "type": "application",
                "name": "bale",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": main,
        },
        "components": components,
        "dependencies": dependencies,
    })
}

fn property(name: &str, value: &str) -> Value {
    json!({"name": name, "value": value})
}

/// A UUID (version 5 layout) from the package's SHA-256: the same package,
/// the same serial number.
fn serial_number(sha256_hex: &str) -> String {
    let mut bytes = [0u8; 16];
    if let Ok(digest) = hex::decode(sha256_hex) {
        for (b, d) in bytes.iter_mut().zip(digest) {
            *b = d;
        }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex::encode(bytes);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_serial_number_is_a_uuid_urn_from_the_digest() {
        let s = super::serial_number(&"ab".repeat(32));
        assert_eq!(s, "urn:uuid:abababab-abab-5bab-abab-abababababab");
    }
}
