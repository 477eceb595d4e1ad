//! `/api/v1/builds`: submit, list, one build, cancel.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bale_api::{
    Build, BuildAttempt, BuildList, BuildListQuery, BuildStep, Reproducibility, SubmitRequest,
};
use bale_db::builds::{self, AttemptRecord, BuildFilter, BuildRecord, BuildStatus, NewBuild};
use bale_db::queue::{self, CancelOutcome};
use bale_db::tokens::Scope;
use bale_db::Database;
use bale_repo::server::ApiError;

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

/// `POST /api/v1/builds` (token: build) → 201 with the queued build.
pub(super) async fn submit(
    State(service): State<Service>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let requested_by = authorize(&service, &headers, Scope::Build).await?;
    let body: SubmitRequest = serde_json::from_slice(&body).map_err(|e| {
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
    let check = body.check || service.checks_every_build()?;
    let archs = requested_archs(service.db(), body.arch.as_deref()).await?;
    let mut queued = Vec::with_capacity(archs.len());
    for arch in archs {
        queued.push(
            builds::submit(
                service.db(),
                &NewBuild {
                    source: source.to_owned(),
                    git_ref: git_ref.clone(),
                    fresh: body.fresh,
                    requested_by: Some(requested_by.clone()),
                    check,
                    arch,
                },
            )
            .await?,
        );
    }
    service.wake_workers();
    let mut queued = queued.into_iter();
    let Some(first) = queued.next() else {
        return Err(ApiError::bad_request(
            "bad_arch",
            "no architecture to build for",
        ));
    };
    let mut build = render(first, None);
    build.also_queued = queued.map(|b| b.id).collect();
    Ok((StatusCode::CREATED, Json(build)).into_response())
}

/// The architectures one submit queues a build for: the one asked for,
/// `all-supported` as every architecture the live workers have stacks for
/// ([`supported_archs`]), or any worker's when absent.
async fn requested_archs(
    db: &Database,
    arch: Option<&str>,
) -> Result<Vec<Option<String>>, ApiError> {
    match arch.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(vec![None]),
        Some(ALL_SUPPORTED) => Ok(supported_archs(db).await?.into_iter().map(Some).collect()),
        Some(arch) if bale_inspect::is_arch_name(arch) && arch != bale_inspect::ALL => {
            Ok(vec![Some(arch.to_owned())])
        }
        Some(arch) => Err(ApiError::bad_request(
            "bad_arch",
            format!(
                "`{arch}` is not a Debian architecture name (amd64, arm64, …) or `{ALL_SUPPORTED}`"
            ),
        )),
    }
}

/// The `arch` of a submit that asks for every architecture the service has stacks for.
const ALL_SUPPORTED: &str = "all-supported";

/// How recently a worker must have looked for work to count as live.
const LIVE_WORKER: std::time::Duration = std::time::Duration::from_secs(300);

/// The architectures the workers that looked for work in the last
/// [`LIVE_WORKER`] have stacks for; this machine's own when none did.
pub(crate) async fn supported_archs(db: &Database) -> Result<Vec<String>, ApiError> {
    let since = builds::now_ms() - LIVE_WORKER.as_millis() as i64;
    let archs = bale_db::queue::worker_archs(db, since).await?;
    if archs.is_empty() {
        return Ok(vec![bale_inspect::machine_arch().to_owned()]);
    }
    Ok(archs)
}

/// `GET /api/v1/builds[?package=NAME&status=S&limit=N]`: newest first.
pub(super) async fn list(
    State(service): State<Service>,
    Query(query): Query<BuildListQuery>,
) -> Result<Json<BuildList>, ApiError> {
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
    Ok(Json(BuildList {
        builds: found.into_iter().map(|build| render(build, None)).collect(),
    }))
}

/// `GET /api/v1/builds/ID`: the record, with steps and attempts.
pub(super) async fn one(
    State(service): State<Service>,
    Path(id): Path<String>,
) -> Result<Json<Build>, ApiError> {
    let id = parse_id(&id)?;
    let build = builds::get(service.db(), id)
        .await?
        .ok_or_else(|| no_build(id))?;
    let attempts = builds::attempts(service.db(), id).await?;
    Ok(Json(render(build, Some(attempts))))
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
            Json(bale_api::CancelOutcome {
                id,
                status: bale_api::BuildStatus::Canceled,
                cancel_requested: false,
            }),
        )
            .into_response()),
        CancelOutcome::Requested => Ok((
            StatusCode::ACCEPTED,
            Json(bale_api::CancelOutcome {
                id,
                status: bale_api::BuildStatus::Running,
                cancel_requested: true,
            }),
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

/// A build as the API shows it, with its attempts when they were read.
// Every field is named, so a field added to the record must be placed in the API here.
pub(super) fn render(record: BuildRecord, attempts: Option<Vec<AttemptRecord>>) -> Build {
    let duration_ms = record.duration_ms();
    let BuildRecord {
        id,
        status,
        source,
        git_ref,
        fresh,
        requested_by,
        coordinate,
        package,
        commit,
        worker,
        stack,
        stack_digest,
        stack_packages,
        tries,
        lease_until,
        cancel_requested,
        created_at,
        started_at,
        finished_at,
        installed_size,
        package_digest,
        error,
        log_key,
        arch,
        steps,
        check,
        first_worker: _,
        reproducibility,
    } = record;
    let attestations = attestations_of(status, coordinate.as_deref(), arch.as_deref());
    Build {
        id,
        status: api_status(status),
        source,
        git_ref,
        fresh,
        arch,
        also_queued: Vec::new(),
        requested_by,
        coordinate,
        package,
        commit,
        worker,
        stack,
        stack_digest,
        stack_packages,
        tries,
        lease_until,
        cancel_requested,
        created_at,
        started_at,
        finished_at,
        duration_ms,
        installed_size,
        package_digest,
        error,
        log_key,
        log: format!("/api/v1/builds/{id}/log"),
        attestations,
        steps: steps
            .into_iter()
            .map(|step| BuildStep {
                name: step.name,
                started_at: step.started_at,
                duration_ms: step.duration_ms,
                status: step.status,
            })
            .collect(),
        attempts: attempts.map(|attempts| {
            attempts
                .into_iter()
                .map(|a| BuildAttempt {
                    attempt: a.attempt,
                    worker: a.worker,
                    started_at: a.started_at,
                    finished_at: a.finished_at,
                    outcome: a.outcome,
                })
                .collect()
        }),
        check,
        // What the service wrote; a record it cannot read shows no check rather than failing the listing.
        reproducibility: reproducibility
            .and_then(|json| serde_json::from_str::<Reproducibility>(&json).ok()),
    }
}

/// The database's status as the API names it.
pub(super) fn api_status(status: BuildStatus) -> bale_api::BuildStatus {
    match status {
        BuildStatus::Queued => bale_api::BuildStatus::Queued,
        BuildStatus::Running => bale_api::BuildStatus::Running,
        BuildStatus::Succeeded => bale_api::BuildStatus::Succeeded,
        BuildStatus::Failed => bale_api::BuildStatus::Failed,
        BuildStatus::TimedOut => bale_api::BuildStatus::TimedOut,
        BuildStatus::Canceled => bale_api::BuildStatus::Canceled,
        BuildStatus::NotReproducible => bale_api::BuildStatus::NotReproducible,
    }
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

/// Where a succeeded build's worker published the SBOMs and provenance: beside its package.
/// A build queued for no architecture was built for the worker's own.
fn attestations_of(
    status: BuildStatus,
    coordinate: Option<&str>,
    arch: Option<&str>,
) -> Vec<String> {
    let Some(coordinate) = coordinate.and_then(|c| c.parse::<bale_coordinate::Coordinate>().ok())
    else {
        return Vec::new();
    };
    if status != BuildStatus::Succeeded {
        return Vec::new();
    }
    bale_repo::paths::PackageFile::ATTESTATIONS
        .iter()
        .map(|file| {
            let arch = arch.unwrap_or_else(|| bale_inspect::machine_arch());
            format!("/{}", bale_repo::paths::arch_key(&coordinate, arch, *file))
        })
        .collect()
}
