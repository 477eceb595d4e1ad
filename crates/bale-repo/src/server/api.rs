//! `/api/v1`: health, package listings, package metadata and search.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::Uri;
use axum::Json;
use bale_api::{
    FileHit, Health, LibraryHit, PackageDetail, PackageFiles, PackageList, PackageName,
    PackageSummary, PackageVersions, SearchQuery, SearchResults, SignatureState, SignatureStatus,
};
use bale_coordinate::{check_group, check_name, Coordinate};
use bale_db::packages::{self, PackageRecord};
use serde::Deserialize;

use super::problem::ApiError;
use super::Repository;
use crate::paths::PackageFile;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// `GET /api/v1/health`.
pub(super) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
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
) -> ApiResult<PackageList> {
    let records = packages::search_name(repo.database(), query.q.as_deref().unwrap_or("")).await?;
    let mut grouped: BTreeMap<(String, String), (Vec<String>, Vec<String>)> = BTreeMap::new();
    for record in records {
        let (versions, archs) = grouped.entry((record.group, record.name)).or_default();
        // One row per architecture: a version is listed once.
        if !versions.contains(&record.version) {
            versions.push(record.version);
        }
        archs.push(record.arch);
    }
    let packages = grouped
        .into_iter()
        .map(|((group, name), (versions, mut archs))| {
            archs.sort();
            archs.dedup();
            PackageName {
                group,
                name,
                versions,
                archs,
            }
        })
        .collect();
    Ok(Json(PackageList { packages }))
}

/// `GET /api/v1/packages/GROUP/NAME`: the published versions, oldest first.
pub(super) async fn versions(
    State(repo): State<Repository>,
    Path((group, name)): Path<(String, String)>,
) -> ApiResult<PackageVersions> {
    check_group(&group).map_err(|e| ApiError::bad_request("bad_coordinate", e.to_string()))?;
    check_name(&name).map_err(|e| ApiError::bad_request("bad_coordinate", e.to_string()))?;
    let records = packages::versions(repo.database(), &group, &name).await?;
    if records.is_empty() {
        return Err(ApiError::not_found(format!(
            "no package {group}:{name} is published here"
        )));
    }
    let versions = records.iter().map(summary).collect();
    Ok(Json(PackageVersions {
        group,
        name,
        versions,
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct ArchQuery {
    arch: Option<String>,
}

/// `GET /api/v1/packages/GROUP/NAME/VERSION[?arch=ARCH]`: index.json, digest
/// and signature status of one architecture's file (without `arch`: amd64's
/// when published, else the first), and every architecture published.
pub(super) async fn package(
    State(repo): State<Repository>,
    Path((group, name, version)): Path<(String, String, String)>,
    Query(query): Query<ArchQuery>,
) -> ApiResult<PackageDetail> {
    let coordinate = Coordinate::new(&group, &name, &version)
        .map_err(|e| ApiError::bad_request("bad_coordinate", e.to_string()))?;
    let records: Vec<PackageRecord> = packages::get_all(repo.database(), &coordinate.to_string())
        .await?
        .into_iter()
        .filter(|r| r.stored)
        .collect();
    let archs: Vec<String> = records.iter().map(|r| r.arch.clone()).collect();
    let chosen = match &query.arch {
        Some(arch) => records.iter().find(|r| &r.arch == arch),
        None => records
            .iter()
            .find(|r| r.arch == bale_archive::LEGACY_ARCH)
            .or(records.first()),
    };
    let record = chosen
        .cloned()
        .ok_or_else(|| match (&query.arch, archs.is_empty()) {
            (Some(arch), false) => ApiError::not_found(format!(
                "{coordinate} is not published here for {arch}, only for {}",
                archs.join(", ")
            )),
            _ => ApiError::not_found(format!("{coordinate} is not published here")),
        })?;
    let archive = file_key(&repo, &coordinate, &record.arch, PackageFile::Archive).await?;
    let signature = match &record.key_id {
        Some(_) => Some(format!(
            "/{}",
            file_key(&repo, &coordinate, &record.arch, PackageFile::Signature).await?
        )),
        None => None,
    };
    let index_file = file_key(&repo, &coordinate, &record.arch, PackageFile::Index).await?;
    let index = serde_json::from_str(&record.index_json).unwrap_or(serde_json::Value::Null);
    Ok(Json(PackageDetail {
        summary: summary(&record),
        group: record.group.clone(),
        name: record.name.clone(),
        archs,
        signature: SignatureState {
            status: if record.key_id.is_some() {
                SignatureStatus::Signed
            } else {
                SignatureStatus::Unsigned
            },
            key_id: record.key_id.clone(),
        },
        files: PackageFiles {
            archive: format!("/{archive}"),
            signature,
            index: format!("/{index_file}"),
        },
        index,
    }))
}

/// `GET /api/v1/search?file=PATH` or `?library=SONAME`.
pub(super) async fn search(
    State(repo): State<Repository>,
    Query(query): Query<SearchQuery>,
) -> ApiResult<SearchResults> {
    match (query.file, query.library) {
        (Some(file), None) if !file.trim().is_empty() => {
            let hits = packages::search_file(repo.database(), file.trim()).await?;
            let packages = hits
                .into_iter()
                .map(|hit| FileHit {
                    coordinate: hit.coordinate,
                    arch: Some(hit.arch),
                    path: hit.path,
                    class: hit.class,
                    sha256: hit.sha256,
                })
                .collect();
            Ok(Json(SearchResults::Files { file, packages }))
        }
        (None, Some(library)) if !library.trim().is_empty() => {
            let hits = packages::search_library(repo.database(), library.trim()).await?;
            let packages = hits
                .into_iter()
                .map(|hit| LibraryHit {
                    coordinate: hit.coordinate,
                    arch: Some(hit.arch),
                    path: hit.path,
                    soname: hit.soname,
                })
                .collect();
            Ok(Json(SearchResults::Libraries { library, packages }))
        }
        _ => Err(ApiError::bad_request(
            "bad_query",
            "search needs exactly one of ?file=PATH (e.g. bin/hello) or ?library=SONAME (e.g. libssl.so.3)",
        )),
    }
}

/// The tree path of one file; files published before architectures keep their names.
async fn file_key(
    repo: &Repository,
    coordinate: &Coordinate,
    arch: &str,
    file: PackageFile,
) -> Result<String, ApiError> {
    Ok(super::tree::stored_key(repo, coordinate, arch, file)
        .await?
        .unwrap_or_else(|| crate::paths::arch_key(coordinate, arch, file)))
}

fn summary(record: &PackageRecord) -> PackageSummary {
    PackageSummary {
        coordinate: record.coordinate.clone(),
        version: record.version.clone(),
        arch: Some(record.arch.clone()),
        digest: record.digest.clone(),
        size: record.size,
        signed_by: record.key_id.clone(),
        published_at: record.published_at,
    }
}
