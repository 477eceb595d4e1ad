//! Git triggers: a push of a branch `<name>-<version>` or a tag `v<version>`
//! becomes a build of that version.
//!
//! Two ways in, one decision ([`decide`]):
//!
//! - **Webhooks.** `POST /api/v1/hooks/git` hands the request's headers and
//!   raw body to [`hook`]: it checks the HMAC-SHA256 signature
//!   (`X-Hub-Signature-256: sha256=<hex>`, or Gitea's `X-Gitea-Signature: <hex>`),
//!   skips non-push events (`X-GitHub-Event: ping`) and deleted refs, and
//!   returns [`HookOutcome::Build`] with a [`TriggeredBuild`]. Errors carry
//!   their HTTP status ([`TriggerError::http_status`]: 401 bad or missing
//!   signature, 400 unreadable event, 422 refused ref) and a JSON error code
//!   ([`TriggerError::code`]). The pieces are public too:
//!   [`verify_signature`], [`parse_push`], [`PushEvent::trigger`]; [`sign`]
//!   makes a signature, for tests and clients.
//! - **Polling.** [`Watch`] runs `git ls-remote --heads --tags <remote>`,
//!   compares with the refs it saw last time (a JSON file under a state
//!   directory) and returns the new or moved refs that name a version
//!   ([`Poll::triggers`]) and those that do not ([`Poll::refused`], with the
//!   reason). A trigger whose submission failed can be [`Watch::forget`]-ed so
//!   the next poll offers it again.
//!
//! ```no_run
//! # fn queue(_: &bale_trigger::TriggeredBuild) {}
//! # let (secret, headers, body) = (b"s", http::HeaderMap::new(), b"{}");
//! match bale_trigger::hook(secret, &headers, body) {
//!     Ok(bale_trigger::HookOutcome::Build(build)) => queue(&build), // 201
//!     Ok(bale_trigger::HookOutcome::Ignored { reason }) => println!("{reason}"), // 202
//!     Err(e) => println!("{} {}: {e}", e.http_status(), e.code()),
//! }
//! ```
//!
//! A [`TriggeredBuild`] names the source to clone, the short ref
//! (`hello-1.2.0`, `v1.3.0`: what `git clone --branch` takes), the commit,
//! the package name a branch carries and the version. Once the source is
//! cloned, [`TriggeredBuild::check_package`] checks the branch against the
//! manifest's name and gives the version to build (the manifest's own
//! version is overridden by it).

mod decide;
mod error;
mod event;
#[doc(hidden)]
pub mod fuzzing;
mod signature;
mod watch;

pub use decide::{decide, RefKind, TriggeredBuild};
pub use error::TriggerError;
pub use event::{hook, parse_push, HookOutcome, PushEvent, EVENT_HEADERS};
pub use signature::{sign, signature_header, verify_signature, SIGNATURE_HEADERS};
pub use watch::{Poll, Refusal, Watch};
