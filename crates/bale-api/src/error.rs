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

/// An error and each of its causes once, on one line (`outer: inner: root`):
/// the text a message that carries an error as text (a record's error, a
/// health check's reason, an envelope's message) holds.
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text = format!("{text}: {inner}");
        cause = inner.source();
    }
    text
}

#[cfg(test)]
mod chain_tests {
    use super::with_causes;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the index")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_error_and_its_causes_make_one_line_each_cause_once() {
        let error = Outer(std::io::Error::other("disk gone"));
        assert_eq!(with_causes(&error), "reading the index: disk gone");
    }
}
