//! The image's JSON documents: its config (what a runtime needs to start
//! it), its manifest (config and layers by digest) and the layout's
//! `index.json` (the manifest by tag). serde_json keeps object keys sorted,
//! so the same facts give the same bytes.

use serde_json::{json, Map, Value};

use super::layer::{Blob, LayerBlob};

/// The media type of an OCI image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The media type of an OCI image config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// The media type of a gzip-compressed layer.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The media type of an image index.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// The annotation that names a manifest's tag in a layout's `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// What goes into the config besides the layers.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfigSpec {
    /// The OCI architecture (`amd64`, `arm64`, …).
    pub architecture: String,
    /// Its variant (`v7`, `v8`), when it has one.
    pub variant: Option<String>,
    /// `created` and every history entry's time, RFC 3339.
    pub created: String,
    /// `KEY=VALUE`, in order.
    pub env: Vec<String>,
    /// TCP ports.
    pub ports: Vec<u16>,
    /// The working directory.
    pub workdir: String,
    /// `uid:gid`.
    pub user: String,
    /// The entrypoint, if the package has services.
    pub entrypoint: Option<Vec<String>>,
    /// The command when there is no entrypoint.
    pub cmd: Option<Vec<String>>,
    /// Labels.
    pub labels: Vec<(String, String)>,
    /// One line per layer, base first.
    pub history: Vec<String>,
}

/// The config document for `layers`.
pub(crate) fn config(spec: &ConfigSpec, layers: &[LayerBlob]) -> Vec<u8> {
    let mut config = Map::new();
    config.insert("Env".into(), json!(spec.env));
    config.insert("User".into(), json!(spec.user));
    config.insert("WorkingDir".into(), json!(spec.workdir));
    if !spec.ports.is_empty() {
        let ports: Map<String, Value> = spec
            .ports
            .iter()
            .map(|p| (format!("{p}/tcp"), json!({})))
            .collect();
        config.insert("ExposedPorts".into(), Value::Object(ports));
    }
    if let Some(entrypoint) = &spec.entrypoint {
        config.insert("Entrypoint".into(), json!(entrypoint));
    }
    if let Some(cmd) = &spec.cmd {
        config.insert("Cmd".into(), json!(cmd));
    }
    let labels: Map<String, Value> = spec
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    config.insert("Labels".into(), Value::Object(labels));
    config.insert("StopSignal".into(), json!("SIGTERM"));
    let history: Vec<Value> = spec
        .history
        .iter()
        .map(|line| json!({"created": spec.created, "created_by": line}))
        .collect();
    let mut doc = json!({
        "architecture": spec.architecture,
        "os": "linux",
        "created": spec.created,
        "config": config,
        "rootfs": {
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
        },
        "history": history,
    });
    if let Some(variant) = &spec.variant {
        doc["variant"] = json!(variant);
    }
    to_bytes(&doc)
}

/// The manifest document.
pub(crate) fn manifest(
    config: &Blob,
    layers: &[LayerBlob],
    annotations: &[(String, String)],
) -> Vec<u8> {
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| descriptor(LAYER_MEDIA_TYPE, &l.blob))
        .collect();
    let annotations: Map<String, Value> = annotations
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    to_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": descriptor(CONFIG_MEDIA_TYPE, config),
        "layers": layers,
        "annotations": annotations,
    }))
}

/// A descriptor of `blob`.
pub(crate) fn descriptor(media_type: &str, blob: &Blob) -> Value {
    json!({"mediaType": media_type, "digest": blob.digest, "size": blob.size})
}

/// The layout's `index.json`: `existing`'s manifests (an earlier export
/// into the same directory) less any with the same tag, then this one.
pub(crate) fn index(existing: Option<&Value>, manifest: Value) -> Vec<u8> {
    let tag = manifest["annotations"][REF_NAME].clone();
    let mut manifests: Vec<Value> = existing
        .and_then(|doc| doc["manifests"].as_array())
        .map(|list| {
            list.iter()
                .filter(|m| m["annotations"][REF_NAME] != tag)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    manifests.push(manifest);
    to_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": manifests,
    }))
}

fn to_bytes(doc: &Value) -> Vec<u8> {
    // Serialising a Value cannot fail: its keys are strings.
    serde_json::to_vec(doc).unwrap_or_default()
}

/// The OCI architecture and variant of a Debian architecture.
pub(crate) fn oci_arch(debian: &str) -> (String, Option<String>) {
    let (arch, variant) = match debian {
        "amd64" => ("amd64", None),
        "arm64" => ("arm64", Some("v8")),
        "armhf" => ("arm", Some("v7")),
        "armel" => ("arm", Some("v5")),
        "i386" => ("386", None),
        "ppc64el" => ("ppc64le", None),
        "mips64el" => ("mips64le", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        other => (other, None),
    };
    (arch.to_owned(), variant.map(str::to_owned))
}

/// `seconds` since the epoch as RFC 3339 UTC (`1970-01-01T00:00:00Z`).
pub(crate) fn rfc3339(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (h, m, s) = (rest / 3600, rest % 3600 / 60, rest % 60);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn a_second_export_with_the_same_tag_replaces_the_first_in_the_index() {
        let first = json!({"digest": "sha256:a", "annotations": {REF_NAME: "1.0"}});
        let other = json!({"digest": "sha256:b", "annotations": {REF_NAME: "2.0"}});
        let doc = json!({"manifests": [first, other]});
        let again = json!({"digest": "sha256:c", "annotations": {REF_NAME: "1.0"}});
        let index: Value = serde_json::from_slice(&index(Some(&doc), again)).expect("json");
        let digests: Vec<&str> = index["manifests"]
            .as_array()
            .expect("manifests")
            .iter()
            .map(|m| m["digest"].as_str().expect("digest"))
            .collect();
        assert_eq!(digests, ["sha256:b", "sha256:c"]);
    }
}
