//! What can go wrong between a git push and a queued build.

use std::path::PathBuf;

/// Why a push did not become a build.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// The request carried no signature header.
    #[error("the push carries no signature; configure the webhook with the service's secret so it sends `X-Hub-Signature-256` (GitHub) or `X-Gitea-Signature` (Gitea)")]
    MissingSignature,
    /// The signature header is not `sha256=<64 hex digits>` or `<64 hex digits>`.
    #[error("the signature header `{value}` is not `sha256=<hex>`; send HMAC-SHA256 signatures (`X-Hub-Signature-256`)")]
    MalformedSignature {
        /// The header as received (cut short).
        value: String,
    },
    /// The signature does not match the body under the configured secret.
    #[error("the push's signature does not match; check that the webhook and the service use the same secret")]
    BadSignature,
    /// The body is not a push event bale understands.
    #[error("the push event cannot be read: {reason}; send a GitHub- or Gitea-style push event as JSON (content type application/json)")]
    Event {
        /// What is wrong with it.
        reason: String,
    },
    /// The pushed ref does not name a version to build.
    #[error("{reason}")]
    Refused {
        /// Why, and which names are accepted.
        reason: String,
    },
    /// `git ls-remote` could not be run or failed.
    #[error("cannot list the refs of `{remote}`: {reason}; check the remote's URL and that git can reach it without a password prompt")]
    Git {
        /// The remote given.
        remote: String,
        /// What git said.
        reason: String,
    },
    /// The watch state file could not be read or written.
    #[error("cannot use the watch state {path}: {reason}; remove the file to start over (every ref is then new)")]
    State {
        /// The state file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

impl TriggerError {
    /// The HTTP status a webhook endpoint answers with for this error.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::MissingSignature | Self::MalformedSignature { .. } | Self::BadSignature => 401,
            Self::Event { .. } => 400,
            Self::Refused { .. } => 422,
            Self::Git { .. } | Self::State { .. } => 500,
        }
    }

    /// A short machine-readable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature | Self::MalformedSignature { .. } | Self::BadSignature => {
                "bad_signature"
            }
            Self::Event { .. } => "bad_event",
            Self::Refused { .. } => "refused",
            Self::Git { .. } => "git",
            Self::State { .. } => "state",
        }
    }
}
