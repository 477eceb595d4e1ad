//! The repository tree over HTTP: GET and HEAD with ETag and Range, PUT to publish.

use std::ops::Range;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::problem::ApiError;
use super::{publish, Repository};
use bale_coordinate::Coordinate;
use bale_db::packages;

use crate::paths::{arch_key, key, PackageFile, PathRefusal, TreePath};

/// Every request outside `/api/v1`: a package file, or an error.
///
/// It takes the request whole: separate `HeaderMap` and `Uri` extractors
/// would copy them for every download.
pub(super) async fn handle(State(repo): State<Repository>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = match TreePath::parse(parts.uri.path()) {
        Ok(path) => path,
        Err(PathRefusal::Malformed(reason)) => return ApiError::bad_request("bad_path", reason).into_response(),
        Err(PathRefusal::NotAPackageFile) => {
            return ApiError::not_found(format!(
                "{} is not a package file: the repository serves /<group as path>/<name>/<version>/<name>-<version>-<arch>.bale[.minisig|.spdx.json|.cdx.json|.intoto.json] and .json",
                parts.uri.path()
            ))
            .into_response()
        }
    };
    let method = parts.method;
    let headers = parts.headers;
    let result = match method {
        Method::GET | Method::HEAD => {
            serve_file(&repo, &path, &headers, method == Method::HEAD).await
        }
        Method::PUT => publish::put(&repo, &path, &headers, body).await,
        _ => {
            let mut response = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed here: use GET, HEAD or PUT"),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, PUT"));
            return response;
        }
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn serve_file(
    repo: &Repository,
    path: &TreePath,
    headers: &HeaderMap,
    head_only: bool,
) -> Result<Response, ApiError> {
    let not_found =
        || ApiError::not_found(format!("{} has no {}", path.coordinate, path.file_name()));
    let key = match &path.arch {
        Some(arch) => stored_key(repo, &path.coordinate, arch, path.file).await?,
        // An older client asks for the name without an architecture: the
        // package published under it, else the amd64 build (every package
        // before architectures was one).
        None => {
            let legacy = path.key();
            if repo.storage().head(&legacy).await?.is_some() {
                Some(legacy)
            } else {
                Some(arch_key(
                    &path.coordinate,
                    bale_archive::LEGACY_ARCH,
                    path.file,
                ))
            }
        }
    };
    let key = key.ok_or_else(not_found)?;
    let object = repo
        .storage()
        .open_object(&key)
        .await?
        .ok_or_else(not_found)?;
    let info = &object.info;
    let modified = info
        .last_modified
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let etag = match &info.e_tag {
        Some(tag) => format!("\"{tag}\""),
        None => format!("\"{:x}-{modified:x}\"", info.size),
    };

    // Values built once per response from parts that are always valid header text.
    let mut out = HeaderMap::with_capacity(8);
    out.insert(header::ETAG, header_value(&etag)?);
    out.insert(
        header::LAST_MODIFIED,
        header_value(&httpdate::fmt_http_date(info.last_modified))?,
    );
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control(path.file)),
    );

    if let Some(value) = headers.get(header::IF_NONE_MATCH) {
        if etag_matches(value, &etag) {
            return Ok(respond(StatusCode::NOT_MODIFIED, out, Body::empty()));
        }
    }

    let wants_range = match headers.get(header::IF_RANGE) {
        Some(value) => value.to_str().map(|v| v.trim() == etag).unwrap_or(false),
        None => true,
    };
    let mut status = StatusCode::OK;
    let mut range = 0..info.size;
    if let (true, Some(value)) = (wants_range, headers.get(header::RANGE)) {
        match parse_range(value.to_str().unwrap_or(""), info.size) {
            RangeRequest::Whole => {}
            RangeRequest::Part(part) => {
                let content_range = format!("bytes {}-{}/{}", part.start, part.end - 1, info.size);
                out.insert(header::CONTENT_RANGE, header_value(&content_range)?);
                status = StatusCode::PARTIAL_CONTENT;
                range = part;
            }
            RangeRequest::Unsatisfiable => {
                out.insert(
                    header::CONTENT_RANGE,
                    header_value(&format!("bytes */{}", info.size))?,
                );
                return Ok(respond(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    out,
                    Body::empty(),
                ));
            }
        }
    }

    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(path.file.content_type()),
    );
    out.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(range.end - range.start),
    );
    if head_only || range.is_empty() {
        return Ok(respond(status, out, Body::empty()));
    }
    // A body of known bytes goes out with the headers in one write.
    if let Some(bytes) = object.inline(range.clone()) {
        return Ok(respond(status, out, Body::from(bytes)));
    }
    let stream = repo
        .storage()
        .stream(object, range)
        .await?
        .ok_or_else(not_found)?;
    Ok(respond(status, out, Body::from_stream(stream)))
}

/// Where one file of `coordinate` built for `arch` is stored: under its
/// name with the architecture, or, for a package published before
/// architectures whose recorded architecture is `arch`, under its old name.
pub(super) async fn stored_key(
    repo: &Repository,
    coordinate: &Coordinate,
    arch: &str,
    file: PackageFile,
) -> Result<Option<String>, ApiError> {
    let named = arch_key(coordinate, arch, file);
    if repo.storage().head(&named).await?.is_some() {
        return Ok(Some(named));
    }
    let legacy = key(coordinate, file);
    let recorded = packages::get(repo.database(), &coordinate.to_string(), arch)
        .await?
        .is_some_and(|r| r.stored);
    if recorded && repo.storage().head(&legacy).await?.is_some() {
        return Ok(Some(legacy));
    }
    Ok(None)
}

fn respond(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

fn header_value(text: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(text)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

fn cache_control(file: PackageFile) -> &'static str {
    match file {
        // A coordinate's archive and index never change.
        PackageFile::Archive | PackageFile::Index => "public, max-age=31536000, immutable",
        // A signature may be added to a package published unsigned.
        PackageFile::Signature => "public, max-age=60",
        // So may the SBOMs and provenance, after the package.
        PackageFile::Spdx | PackageFile::CycloneDx | PackageFile::Provenance => {
            "public, max-age=60"
        }
    }
}

fn etag_matches(value: &HeaderValue, etag: &str) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// What a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// No usable single range: send everything.
    Whole,
    /// One satisfiable range (end exclusive).
    Part(Range<u64>),
    /// A range that starts past the end.
    Unsatisfiable,
}

fn parse_range(value: &str, size: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    // Several ranges would need multipart/byteranges; the whole file is a valid answer.
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() {
        let Ok(suffix) = end.parse::<u64>() else {
            return RangeRequest::Whole;
        };
        if suffix == 0 || size == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Part(size.saturating_sub(suffix)..size);
    }
    let Ok(start) = start.parse::<u64>() else {
        return RangeRequest::Whole;
    };
    let end = if end.is_empty() {
        size
    } else {
        match end.parse::<u64>() {
            // `last` may be u64::MAX: clamp before adding one.
            Ok(last) if last >= start => last.min(size.saturating_sub(1)).saturating_add(1),
            _ => return RangeRequest::Whole,
        }
    };
    if start >= size {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Part(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeRequest::Part(0..10));
        assert_eq!(parse_range("bytes=90-", 100), RangeRequest::Part(90..100));
        assert_eq!(parse_range("bytes=-10", 100), RangeRequest::Part(90..100));
        assert_eq!(parse_range("bytes=-1000", 100), RangeRequest::Part(0..100));
        assert_eq!(
            parse_range("bytes=50-1000", 100),
            RangeRequest::Part(50..100)
        );
        assert_eq!(parse_range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeRequest::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeRequest::Whole);
        assert_eq!(parse_range("bytes=9-3", 100), RangeRequest::Whole);
        assert_eq!(
            parse_range(&format!("bytes=0-{}", u64::MAX), 100),
            RangeRequest::Part(0..100)
        );
        assert_eq!(
            parse_range(&format!("bytes=99-{}", u64::MAX), 100),
            RangeRequest::Part(99..100)
        );
        assert_eq!(parse_range("bytes=-5", 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-5", 0), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn etags_match_lists_weak_tags_and_star() {
        let etag = "\"abc\"";
        assert!(etag_matches(
            &HeaderValue::from_static("\"x\", \"abc\""),
            etag
        ));
        assert!(etag_matches(&HeaderValue::from_static("W/\"abc\""), etag));
        assert!(etag_matches(&HeaderValue::from_static("*"), etag));
        assert!(!etag_matches(&HeaderValue::from_static("\"abd\""), etag));
    }
}
