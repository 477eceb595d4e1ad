//! GitHub- and Gitea-style push events, and the whole webhook decision.

use serde::Deserialize;

use crate::decide::{decide, TriggeredBuild};
use crate::error::TriggerError;
use crate::signature::{signature_header, verify_signature};

/// The headers that name a webhook's event type (GitHub, Gitea, Gogs).
pub const EVENT_HEADERS: [&str; 3] = ["x-github-event", "x-gitea-event", "x-gogs-event"];

/// The fields of a push event that decide a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// The pushed ref, e.g. `refs/heads/hello-1.2.0`.
    pub full_ref: String,
    /// The commit the ref points to after the push.
    pub after: String,
    /// The repository's clone URL (HTTPS).
    pub clone_url: String,
    /// The repository's `owner/name`, when the event gives it.
    pub repository: Option<String>,
    /// Whether the push deleted the ref (`deleted: true` or `after` all zeros).
    pub deleted: bool,
}

#[derive(Deserialize)]
struct RawPush {
    #[serde(rename = "ref")]
    full_ref: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    repository: RawRepository,
}

#[derive(Deserialize)]
struct RawRepository {
    clone_url: Option<String>,
    html_url: Option<String>,
    full_name: Option<String>,
}

/// Reads a push event body (GitHub's and Gitea's share these fields: `ref`, `after`,
/// `repository.clone_url`).
pub fn parse_push(body: &[u8]) -> Result<PushEvent, TriggerError> {
    let raw: RawPush = serde_json::from_slice(body).map_err(|e| TriggerError::Event {
        reason: e.to_string(),
    })?;
    let clone_url = raw
        .repository
        .clone_url
        .filter(|u| !u.is_empty())
        // Some servers leave clone_url out; their web URL clones too.
        .or_else(|| raw.repository.html_url.filter(|u| !u.is_empty()))
        .ok_or_else(|| TriggerError::Event {
            reason: "`repository.clone_url` is missing".to_owned(),
        })?;
    let deleted = raw.deleted || (!raw.after.is_empty() && raw.after.bytes().all(|b| b == b'0'));
    if !deleted && (raw.after.len() < 7 || !raw.after.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(TriggerError::Event {
            reason: format!("`after` is `{}`, not a commit id", raw.after),
        });
    }
    Ok(PushEvent {
        full_ref: raw.full_ref,
        after: raw.after,
        clone_url,
        repository: raw.repository.full_name,
        deleted,
    })
}

impl PushEvent {
    /// What this push builds: `None` when it deleted its ref, a refusal when the ref names no version.
    pub fn trigger(&self) -> Result<Option<TriggeredBuild>, TriggerError> {
        if self.deleted {
            return Ok(None);
        }
        decide(&self.clone_url, &self.full_ref, &self.after).map(Some)
    }
}

/// What a webhook delivery leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookOutcome {
    /// Queue this build.
    Build(TriggeredBuild),
    /// Nothing to do (a `ping`, another event type, a deleted ref); answer 200 or 202 with the reason.
    Ignored {
        /// Why nothing is built.
        reason: String,
    },
}

/// The whole webhook decision: checks the signature (401 on failure, see
/// [`TriggerError::http_status`]), skips events that are not pushes and
/// deleted refs, reads the push and decides the build (422 with the reason
/// when the ref names no version).
pub fn hook(
    secret: &[u8],
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<HookOutcome, TriggerError> {
    verify_signature(secret, body, signature_header(headers).unwrap_or(""))?;
    let event = EVENT_HEADERS
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|v| v.to_str().ok());
    if let Some(event) = event.filter(|e| *e != "push") {
        return Ok(HookOutcome::Ignored {
            reason: format!("a `{event}` event is not a push"),
        });
    }
    let push = parse_push(body)?;
    Ok(match push.trigger()? {
        Some(build) => HookOutcome::Build(build),
        None => HookOutcome::Ignored {
            reason: format!("the push deleted `{}`", push.full_ref),
        },
    })
}
