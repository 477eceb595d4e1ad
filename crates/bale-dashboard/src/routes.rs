//! The dashboard's HTTP routes over a [`Source`] of data.

use std::future::Future;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::html::{escape, page};
use crate::pages::{build_page, overview_page, package_page};
use crate::view::{BuildPage, Overview, PackagePage};

/// Why the data for a page could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// Where the dashboard's data comes from (the service's database, the
/// machine's stacks and apps).
pub trait Source: Send + Sync + 'static {
    /// Everything the front page shows.
    fn overview(&self) -> impl Future<Output = Result<Overview, SourceError>> + Send;
    /// One build with its log so far; `None` when there is no such build.
    fn build(&self, id: i64)
        -> impl Future<Output = Result<Option<BuildPage>, SourceError>> + Send;
    /// One package with its files, for `arch` (`None`: amd64's, else the
    /// first published); `None` when it is not published.
    fn package(
        &self,
        coordinate: &str,
        arch: Option<&str>,
    ) -> impl Future<Output = Result<Option<PackagePage>, SourceError>> + Send;
}

/// The dashboard's routes: `/`, `/-/builds/{id}` and `/-/packages/{coordinate}`.
///
/// Its pages live under `/-/`, a path no repository group can take, so the
/// router merges with the repository's tree.
pub fn router<S: Source>(source: Arc<S>) -> Router {
    Router::new()
        .route("/", get(overview::<S>))
        .route("/-/builds/{id}", get(build::<S>))
        .route("/-/packages/{coordinate}", get(package::<S>))
        .with_state(source)
}

fn html(body: String) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Html(body)).into_response()
}

fn problem(status: StatusCode, message: &str) -> Response {
    let body = page(
        status.as_str(),
        &format!("<h1>{}</h1><p>{}</p>", status, escape(message)),
        None,
    );
    (status, Html(body)).into_response()
}

async fn overview<S: Source>(State(source): State<Arc<S>>) -> Response {
    match source.overview().await {
        Ok(o) => html(overview_page(&o)),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.0),
    }
}

async fn build<S: Source>(State(source): State<Arc<S>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return problem(
            StatusCode::NOT_FOUND,
            "a build id is a number, as in /-/builds/12",
        );
    };
    match source.build(id).await {
        Ok(Some(p)) => html(build_page(&p)),
        Ok(None) => problem(StatusCode::NOT_FOUND, &format!("there is no build #{id}")),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.0),
    }
}

/// `?arch=` on a package page.
#[derive(Debug, serde::Deserialize)]
struct ArchQuery {
    arch: Option<String>,
}

async fn package<S: Source>(
    State(source): State<Arc<S>>,
    Path(coordinate): Path<String>,
    Query(query): Query<ArchQuery>,
) -> Response {
    match source.package(&coordinate, query.arch.as_deref()).await {
        Ok(Some(p)) => html(package_page(&p)),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            &format!("{coordinate} is not published here"),
        ),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.0),
    }
}
