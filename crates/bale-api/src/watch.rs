//! What `bale watch --once --json` prints: each poll's submitted, refused
//! and failed refs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One poll of a git remote by `bale watch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WatchReport {
    /// The version refs submitted as builds.
    pub queued: Vec<WatchQueued>,
    /// The refs that changed but name no version.
    pub refused: Vec<WatchRefused>,
    /// The version refs the service did not take (offered again at the next poll).
    pub failed: Vec<WatchFailed>,
    /// The version refs recorded without building (`--skip-existing` on a first poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Vec<String>>,
}

/// A version ref submitted as a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WatchQueued {
    /// The build's id.
    pub id: i64,
    /// The ref, e.g. `hello-1.2.0` or `v1.2.0`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit it points to.
    pub commit: String,
    /// The version it names.
    pub version: String,
    /// The package name it names, for a `NAME-VERSION` branch.
    pub name: Option<String>,
}

/// A ref that changed but names no version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WatchRefused {
    /// The full ref, e.g. `refs/heads/feature-x`.
    pub full_ref: String,
    /// The commit it points to.
    pub commit: String,
    /// Why it builds nothing, and which names would.
    pub reason: String,
}

/// A version ref the service did not take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WatchFailed {
    /// The ref.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// What the service or the connection said.
    pub error: String,
}
