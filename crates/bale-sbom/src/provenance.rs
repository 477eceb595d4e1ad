//! The build's provenance: an in-toto Statement v1 about the package file
//! with a SLSA provenance v1 predicate.

use bale_api::BuildFacts;
use serde_json::{json, Value};

use crate::{PackageFacts, SbomError};

/// The statement's `_type`.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate's type.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// The build type: a `bale build` of a `bale.toml` (docs/sbom.md).
pub const BUILD_TYPE: &str = "urn:bale:build-type:bale-build:v1";
/// The builder id of a build on this machine by `bale build`.
pub const LOCAL_BUILDER: &str = "urn:bale:builder:local";

/// Who ran the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    /// The builder id: [`LOCAL_BUILDER`], or the build service's URL.
    pub id: String,
    /// This run's id at the builder (the build's URL at a service), when it has one.
    pub invocation_id: Option<String>,
}

impl Builder {
    /// `bale build` on this machine.
    pub fn local() -> Builder {
        Builder {
            id: LOCAL_BUILDER.to_owned(),
            invocation_id: None,
        }
    }
}

/// The statement's bytes (the DSSE payload).
pub fn statement(
    package: &PackageFacts,
    build: &BuildFacts,
    builder: &Builder,
) -> Result<Vec<u8>, SbomError> {
    crate::to_bytes(&statement_json(package, build, builder)?)
}

/// The statement as JSON.
pub fn statement_json(
    package: &PackageFacts,
    build: &BuildFacts,
    builder: &Builder,
) -> Result<Value, SbomError> {
    let mut resolved = Vec::new();
    let mut stack = json!({"uri": format!("urn:bale:stack:{}", build.stack), "name": build.stack});
    if let Some(hex) = build.stack_digest.strip_prefix("sha256:") {
        stack["digest"] = json!({"sha256": hex});
    }
    resolved.push(stack);
    if let Some(key) = &build.layer {
        resolved.push(json!({
            "uri": format!("urn:bale:layer:{key}"),
            "name": "dependency-layer",
            "digest": {"sha256": key},
        }));
    }
    let mut source = json!({
        "uri": crate::public_source(&build.source),
        "name": "source",
    });
    if let Some(commit) = &build.commit {
        source["digest"] = json!({"gitCommit": commit});
    }
    resolved.push(source);

    let finished = build.started_at + build.duration_ms.div_ceil(1000);
    let mut metadata = json!({
        "startedOn": crate::time::rfc3339(build.started_at),
        "finishedOn": crate::time::rfc3339(finished),
    });
    if let Some(id) = &builder.invocation_id {
        metadata["invocationId"] = json!(id);
    }
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": package.file_name, "digest": {"sha256": package.sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {"manifest": package.manifest_json()?},
                "internalParameters": {
                    "sourceDateEpoch": build.source_date_epoch,
                    "arch": package.index.arch(),
                },
                "resolvedDependencies": resolved,
            },
            "runDetails": {
                "builder": {
                    "id": builder.id,
                    "version": {"bale": env!("CARGO_PKG_VERSION")},
                },
                "metadata": metadata,
            },
        },
    }))
}
