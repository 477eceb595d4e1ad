//! `/api/v1/builds`: submit, list, one build, cancel.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bale_db::builds::{self, BuildFilter, BuildRecord, BuildStatus, NewBuild};
use bale_db::queue::{self, CancelOutcome};
use bale_db::tokens::Scope;
use bale_repo::server::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{authorize, Service};
use crate::worker::check_source;

/// The 400 answer for a submitted source or ref that is refused.
pub(super) fn source_refusal(error: bale_manifest::ManifestError) -> ApiError {
    let code = match &error {
        bale_manifest::ManifestError::GitRef { .. } => "bad_ref",
        bale_manifest::ManifestError::LocalSource { .. } => "local_source",
        _ => "bad_source",
    };
    ApiError::bad_request(code, error.to_string())
}

/// The body of `POST /api/v1/builds`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBody {
    source: String,
    #[serde(rename = "ref", default)]
    git_ref: Option<String>,
    #[serde(default)]
    fresh: bool,
}

/// `POST /api/v1/builds` (token: build) → 201 with the queued build.
pub(super) async fn submit(
    State(service): State<Service>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let requested_by = authorize(&service, &headers, Scope::Build).await?;
    let body: SubmitBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "bad_request",
            format!("the body must be JSON {{\"source\": \"<git URL or directory>\", \"ref\": null, \"fresh\": false}}: {e}"),
        )
    })?;
    let source = body.source.trim();
    if source.is_empty() {
        return Err(ApiError::bad_request(
            "bad_source",
            "`source` is empty: give a git URL or an absolute directory",
        ));
    }
    let git_ref = body
        .git_ref
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    check_source(source, git_ref.as_deref(), service.allow_local_sources())
        .map_err(source_refusal)?;
    let build = builds::submit(
        service.db(),
        &NewBuild {
            source: source.to_owned(),
            git_ref,
            fresh: body.fresh,
            requested_by: Some(requested_by),
        },
    )
    .await?;
    service.wake_workers();
    Ok((StatusCode::CREATED, Json(render(&build))).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    package: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/builds[?package=NAME&status=S&limit=N]`: newest first.
pub(super) async fn list(
    State(service): State<Service>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let status = match query.status.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(
            text.parse::<BuildStatus>()
                .map_err(|e| ApiError::bad_request("bad_status", e.to_string()))?,
        ),
        None => None,
    };
    let filter = BuildFilter {
        package: query.package.filter(|p| !p.is_empty()),
        status,
        limit: query.limit,
    };
    let found = builds::list(service.db(), &filter).await?;
    Ok(Json(
        json!({ "builds": found.iter().map(render).collect::<Vec<_>>() }),
    ))
}

/// `GET /api/v1/builds/ID`: the record, with steps and attempts.
pub(super) async fn one(
    State(service): State<Service>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let build = builds::get(service.db(), id)
        .await?
        .ok_or_else(|| no_build(id))?;
    let mut body = render(&build);
    body["attempts"] = json!(builds::attempts(service.db(), id).await?);
    Ok(Json(body))
}

/// `POST /api/v1/builds/ID/cancel` (token: build).
pub(super) async fn cancel(
    State(service): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&service, &headers, Scope::Build).await?;
    let id = parse_id(&id)?;
    match queue::request_cancel(service.db(), id).await? {
        CancelOutcome::Canceled => Ok((
            StatusCode::OK,
            Json(json!({ "id": id, "status": "canceled" })),
        )
            .into_response()),
        CancelOutcome::Requested => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "id": id, "status": "running", "cancel_requested": true })),
        )
            .into_response()),
        CancelOutcome::AlreadyFinished(status) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_finished",
            format!("build {id} has already ended: {status}"),
        )),
        CancelOutcome::NotFound => Err(no_build(id)),
    }
}

/// A build as the API shows it.
pub(super) fn render(build: &BuildRecord) -> Value {
    let mut value = serde_json::to_value(build).unwrap_or(Value::Null);
    value["duration_ms"] = json!(build.duration_ms());
    value["log"] = json!(format!("/api/v1/builds/{}/log", build.id));
    value
}

pub(super) fn parse_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::bad_request(
                "bad_id",
                format!("`{text}` is not a build id (a positive number)"),
            )
        })
}

pub(super) fn no_build(id: i64) -> ApiError {
    ApiError::not_found(format!("no build {id}: list them with `bale builds`"))
}
