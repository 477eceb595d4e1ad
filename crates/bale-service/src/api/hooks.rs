//! `POST /api/v1/hooks/git`: signed push events (GitHub, Gitea) that name a
//! version become builds; bale-trigger decides which.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bale_api::{HookBuild, HookIgnored, HookStatus};
use bale_db::builds::{self, NewBuild};
use bale_repo::server::ApiError;
use bale_trigger::HookOutcome;

use super::builds::{render, source_refusal};
use super::Service;
use crate::worker::check_source;

/// The handler: 201 with the queued build, 202 when the event builds nothing,
/// 401 for a bad signature, 422 for a ref that names no version.
pub(super) async fn git(
    State(service): State<Service>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(secret) = service.inner.hook_secret.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "hooks_disabled",
            "git webhooks are off: start the service with --hook-secret (or BALE_HOOK_SECRET)",
        ));
    };
    let outcome = bale_trigger::hook(secret.as_bytes(), &headers, &body).map_err(|e| {
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        ApiError::new(status, e.code(), e.to_string())
    })?;
    match outcome {
        HookOutcome::Ignored { reason } => Ok((
            StatusCode::ACCEPTED,
            Json(HookIgnored {
                status: HookStatus::Ignored,
                reason,
            }),
        )
            .into_response()),
        HookOutcome::Build(triggered) => {
            // The clone URL comes from the payload: a path or file:// URL
            // would make the worker clone this machine's repositories.
            check_source(
                &triggered.source,
                Some(&triggered.full_ref()),
                service.allow_local_sources(),
            )
            .map_err(source_refusal)?;
            let check = service.checks_every_build()?;
            let build = builds::submit(
                service.db(),
                &NewBuild {
                    source: triggered.source.clone(),
                    // The full ref lets the worker check the branch against the package and take its version.
                    git_ref: Some(triggered.full_ref()),
                    fresh: false,
                    requested_by: Some(format!(
                        "git push of {} at {}",
                        triggered.full_ref(),
                        triggered.commit
                    )),
                    check,
                    // A push builds on whichever worker comes first, as before architectures.
                    arch: None,
                },
            )
            .await?;
            service.wake_workers();
            let body = HookBuild {
                build: render(build, None),
                version: triggered.version,
            };
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
    }
}
