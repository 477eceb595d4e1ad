//! The stacks API: the stacks of the service's machine and the Morphux verbs.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `GET /api/v1/stacks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackList {
    /// Every configured stack and every image on disk.
    pub stacks: Vec<Stack>,
}

/// One stack and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Stack {
    /// The stack's name.
    pub name: String,
    /// The image's Debian architecture (`amd64`, `arm64`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// `debootstrap`, `host`, or `unconfigured` for an image no configuration names.
    pub kind: String,
    /// Absent, created or warm.
    pub state: StackState,
    /// Bytes of the image's files, when created.
    pub size_bytes: Option<u64>,
    /// The image's digest, when created.
    pub digest: Option<String>,
    /// The image's identity by content (suite, architecture, packages), when created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// When the image was made (seconds since the Unix epoch).
    pub created: Option<u64>,
}

/// Whether a stack exists and is kept warm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StackState {
    /// Configured, never created (or removed).
    Absent,
    /// The image exists.
    Created,
    /// The image exists and is kept warm.
    Warm,
}

/// `POST /api/v1/stacks/NAME/{create,start,stop}`: the stack's state afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackChange {
    /// The stack's name.
    pub name: String,
    /// Its state now.
    pub state: StackState,
    /// The image's digest (answered by create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// `POST /api/v1/stacks/NAME/sanitize`: what differed and whether it was rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StackSanitized {
    /// The stack's name.
    pub name: String,
    /// Whether the image was rebuilt.
    pub rebuilt: bool,
    /// The image's digest afterwards.
    pub digest: String,
    /// How the image differed from its record; empty when it matched.
    pub differences: Vec<String>,
}
