//! What `bale build --json` prints, and the `NAME-VERSION.build.json` facts
//! kept beside a package: the facts of one build that vary from run to run
//! (host, times, durations, log), never inside the package.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The standard output of `bale build --json`, read back by the build service's worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BuildOutput {
    /// The package file written.
    pub path: PathBuf,
    /// The build's facts file (`NAME-VERSION.build.json`).
    pub facts: PathBuf,
    /// The `.minisig` written beside the package, when a key was given.
    pub signature: Option<PathBuf>,
    /// The SBOMs and provenance written beside the package
    /// (`.spdx.json`, `.cdx.json`, `.intoto.json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<PathBuf>,
    /// The build's facts, as in the facts file.
    pub build: BuildFacts,
}

/// Everything recorded about one build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BuildFacts {
    /// The package's coordinate.
    pub coordinate: String,
    /// The machine that built it.
    pub host: String,
    /// When the build started (seconds since the Unix epoch).
    pub started_at: u64,
    /// How long the whole build took.
    pub duration_ms: u64,
    /// The stack's name.
    pub stack: String,
    /// The stack image's byte digest (what sanitize checks the image against).
    pub stack_digest: String,
    /// The stack's identity by content (suite, architecture, packages), as
    /// the package's index names it; docs/package.md gives the recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_identity: Option<String>,
    /// The dependency layer's key, when the build used one.
    pub layer: Option<String>,
    /// Where the source came from (`[source] git`, else the local directory).
    pub source: String,
    /// The source commit, when known.
    pub commit: Option<String>,
    /// `SOURCE_DATE_EPOCH` of the build.
    pub source_date_epoch: u64,
    /// Each step, in order.
    pub steps: Vec<StepFacts>,
    /// How many `[test]` commands ran and passed.
    pub tests: usize,
    /// The package file.
    pub package: PathBuf,
    /// The package file's SHA-256.
    pub sha256: String,
    /// The build's full log.
    pub log: PathBuf,
}

/// One step of a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StepFacts {
    /// stack, dependencies, source, before, main, after, finalize, collect, pack, test.
    pub name: String,
    /// When it started (milliseconds since the Unix epoch).
    pub started_at: u64,
    /// How long it took.
    pub duration_ms: u64,
    /// `ok`, `failed` or `cached`.
    pub status: String,
}
