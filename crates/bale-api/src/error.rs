//! The error envelope: every API error, and `bale … --json` when a command
//! fails, is `{"error": {"code": "…", "message": "…"}}`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `{"error": {...}}`: what an API call or a `--json` command answers when it fails.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorEnvelope {
    /// What went wrong.
    pub error: ErrorBody,
}

/// One error: a stable code for programs, a message for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code, e.g. `not_found`, `bad_ref`, `conflict`.
    pub code: String,
    /// What happened and what to do.
    pub message: String,
    /// Extra facts, e.g. both digests of a conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

impl ErrorEnvelope {
    /// An envelope around `code` and `message`.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorEnvelope {
            error: ErrorBody {
                code: code.into(),
                message: message.into(),
                details: None,
            },
        }
    }
}
