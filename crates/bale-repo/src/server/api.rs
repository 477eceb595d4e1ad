//! `/api/v1`: health, package listings, package metadata and search.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::Json;
use bale_coordinate::{check_group, check_name, Coordinate};
use bale_db::packages::{self, PackageRecord};
use serde::Deserialize;
use serde_json::{json, Value};

use super::problem::ApiError;
use super::Repository;
use crate::paths::{key, PackageFile};

type ApiResult = Result<Json<Value>, ApiError>;

/// `GET /api/v1/health`.
pub(super) async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Any other path under `/api/v1`.
pub(super) async fn unknown(uri: Uri) -> ApiError {
    ApiError::not_found(format!("{} is not an API route", uri.path()))
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    q: Option<String>,
}

/// `GET /api/v1/packages?q=TEXT`: packages whose name contains TEXT, with their versions.
pub(super) async fn list_packages(
    State(repo): State<Repository>,
    Query(query): Query<ListQuery>,
) -> ApiResult {
    let records = packages::search_name(repo.database(), query.q.as_deref().unwrap_or("")).await?;
    let mut grouped: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for record in records {
        grouped
            .entry((record.group, record.name))
            .or_default()
            .push(record.version);
    }
    let packages: Vec<Value> = grouped
        .into_iter()
        .map(|((group, name), versions)| json!({ "group": group, "name": name, "versions": versions }))
        .collect();
    Ok(Json(json!({ "packages": packages })))
}

/// `GET /api/v1/packages/GROUP/NAME`: the published versions, oldest first.
pub(super) async fn versions(
    State(repo): State<Repository>,
    Path((group, name)): Path<(String, String)>,
) -> ApiResult {
    check_group(&group).map_err(|e| ApiError::bad_request("bad_coordinate", e.to_string()))?;
    check_name(&name).map_err(|e| ApiError::bad_request("bad_coordinate", e.to_string()))?;
    let records = packages::versions(repo.database(), &group, &name).await?;
    if records.is_empty() {
        return Err(ApiError::not_found(format!(
            "no package {group}:{name} is published here"
        )));
    }
    let versions: Vec<Value> = records.iter().map(summary).collect();
    Ok(Json(
        json!({ "group": group, "name": name, "versions": versions }),
    ))
}

/// `GET /api/v1/packages/GROUP/NAME/VERSION`: index.json, digest and signature status.
pub(super) async fn package(
    State(repo): State<Repository>,
    Path((group, name, version)): Path<(String, String, String)>,
) -> ApiResult {
    let coordinate = Coordinate::new(&group, &name, &version)
        .map_err(|e| ApiError::bad_request("bad_coordinate", e.to_string()))?;
    let record = packages::get(repo.database(), &coordinate.to_string())
        .await?
        .filter(|r| r.stored)
        .ok_or_else(|| ApiError::not_found(format!("{coordinate} is not published here")))?;
    let index: Value = serde_json::from_str(&record.index_json).unwrap_or(Value::Null);
    let mut body = summary(&record);
    body["group"] = json!(record.group);
    body["name"] = json!(record.name);
    body["signature"] = json!({
        "status": if record.key_id.is_some() { "signed" } else { "unsigned" },
        "key_id": record.key_id,
    });
    body["files"] = json!({
        "archive": format!("/{}", key(&coordinate, PackageFile::Archive)),
        "signature": record.key_id.as_ref().map(|_| format!("/{}", key(&coordinate, PackageFile::Signature))),
        "index": format!("/{}", key(&coordinate, PackageFile::Index)),
    });
    body["index"] = index;
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
pub(super) struct SearchQuery {
    file: Option<String>,
    library: Option<String>,
}

/// `GET /api/v1/search?file=PATH` or `?library=SONAME`.
pub(super) async fn search(
    State(repo): State<Repository>,
    Query(query): Query<SearchQuery>,
) -> ApiResult {
    match (query.file, query.library) {
        (Some(file), None) if !file.trim().is_empty() => {
            let hits = packages::search_file(repo.database(), file.trim()).await?;
            Ok(Json(json!({ "file": file, "packages": hits })))
        }
        (None, Some(library)) if !library.trim().is_empty() => {
            let hits = packages::search_library(repo.database(), library.trim()).await?;
            Ok(Json(json!({ "library": library, "packages": hits })))
        }
        _ => Err(ApiError::bad_request(
            "bad_query",
            "search needs exactly one of ?file=PATH (e.g. bin/hello) or ?library=SONAME (e.g. libssl.so.3)",
        )),
    }
}

fn summary(record: &PackageRecord) -> Value {
    json!({
        "coordinate": record.coordinate,
        "version": record.version,
        "digest": record.digest,
        "size": record.size,
        "signed_by": record.key_id,
        "published_at": record.published_at,
    })
}
