//! `/api/v1/stacks`: the stacks of this machine and the Morphux verbs
//! (create, start, stop, sanitize; token: admin).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use bale_api::{Stack, StackChange, StackList, StackSanitized, StackState};
use bale_db::tokens::Scope;
use bale_repo::server::ApiError;
use bale_stack::{StackError, StackInfo, Stacks};

use super::{authorize, Service};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// `GET /api/v1/stacks`.
pub(super) async fn list(State(service): State<Service>) -> ApiResult<StackList> {
    let list = with_stacks(&service, |stacks| stacks.list()).await?;
    Ok(Json(StackList {
        stacks: list.into_iter().map(stack_view).collect(),
    }))
}

/// A stack as the API shows it.
fn stack_view(info: StackInfo) -> Stack {
    let StackInfo {
        name,
        arch,
        kind,
        state,
        size_bytes,
        digest,
        identity,
        created,
    } = info;
    Stack {
        name,
        arch: Some(arch),
        kind: kind.to_owned(),
        state: api_state(state),
        size_bytes,
        digest,
        identity,
        created,
    }
}

fn api_state(state: bale_stack::StackState) -> StackState {
    match state {
        bale_stack::StackState::Absent => StackState::Absent,
        bale_stack::StackState::Created => StackState::Created,
        bale_stack::StackState::Warm => StackState::Warm,
    }
}

/// `POST /api/v1/stacks/NAME/create`: a new clean installation (debootstrap).
pub(super) async fn create(
    State(service): State<Service>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<StackChange> {
    authorize(&service, &headers, Scope::Admin).await?;
    let image = with_stacks(&service, move |stacks| {
        stacks.create(&name, None, &mut |_| {})
    })
    .await?;
    Ok(Json(StackChange {
        name: image.name,
        state: StackState::Created,
        digest: Some(image.digest),
    }))
}

/// `POST /api/v1/stacks/NAME/start`: keep its image and layers warm.
pub(super) async fn start(
    State(service): State<Service>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<StackChange> {
    authorize(&service, &headers, Scope::Admin).await?;
    let shown = name.clone();
    with_stacks(&service, move |stacks| stacks.start(&name)).await?;
    Ok(Json(StackChange {
        name: shown,
        state: StackState::Warm,
        digest: None,
    }))
}

/// `POST /api/v1/stacks/NAME/stop`: evict its dependency layers.
pub(super) async fn stop(
    State(service): State<Service>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<StackChange> {
    authorize(&service, &headers, Scope::Admin).await?;
    let shown = name.clone();
    with_stacks(&service, move |stacks| stacks.stop(&name)).await?;
    Ok(Json(StackChange {
        name: shown,
        state: StackState::Created,
        digest: None,
    }))
}

/// `POST /api/v1/stacks/NAME/sanitize`: verify against the record, rebuild if anything differs.
pub(super) async fn sanitize(
    State(service): State<Service>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> ApiResult<StackSanitized> {
    authorize(&service, &headers, Scope::Admin).await?;
    let shown = name.clone();
    let report = with_stacks(&service, move |stacks| stacks.sanitize(&name, &mut |_| {})).await?;
    Ok(Json(StackSanitized {
        name: shown,
        rebuilt: report.rebuilt,
        digest: report.digest,
        differences: report.differences.iter().map(|d| d.to_string()).collect(),
    }))
}

/// Runs a stack operation off the async threads (they read and write whole images).
async fn with_stacks<T: Send + 'static>(
    service: &Service,
    work: impl FnOnce(&Stacks) -> Result<T, StackError> + Send + 'static,
) -> Result<T, ApiError> {
    let home = service.inner.home.clone();
    let result = tokio::task::spawn_blocking(move || {
        let stacks = Stacks::load(&home, None)?;
        work(&stacks)
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    result.map_err(stack_error)
}

fn stack_error(error: StackError) -> ApiError {
    let text = bale_api::error::with_causes(&error);
    match error {
        StackError::Io { .. } | StackError::Spawn { .. } => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", text)
        }
        StackError::Unknown { .. } | StackError::NotCreated { .. } => ApiError::not_found(text),
        StackError::BadName { .. } => ApiError::bad_request("bad_name", text),
        _ => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "stack_refused", text),
    }
}
