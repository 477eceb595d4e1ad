//! Publishing: PUT of an archive (with its signature in a header) or of a
//! signature for a package already published.
//!
//! An upload is received into the scratch directory, checked whole (archive,
//! coordinate, signature), then its coordinate is claimed in the database,
//! which makes exactly one content win. Only the winner's bytes are written
//! to storage, each object atomically, and the package becomes visible to
//! the API once all of them are in place.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bale_api::{PublishOutcome, PublishStatus};
use bale_archive::Limits;
use bale_db::packages;
use bale_db::tokens::Scope;
use bale_sign::{Keyring, SignError, Signature};
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::problem::ApiError;
use super::Repository;
use crate::catalog::{store_package, Stored, VerifiedPackage};
use crate::paths::{arch_key, key, PackageFile, TreePath};
use crate::{RepoError, MAX_ATTESTATION_BYTES};

/// The request header that carries an archive's `.minisig` file, base64-encoded.
pub const SIGNATURE_HEADER: &str = "bale-signature";
/// Upload files in the scratch directory start with this.
const UPLOAD_PREFIX: &str = "upload-";
/// At most this much of a refused upload is read and discarded.
const DRAIN_MAX_BYTES: u64 = 64 << 20;
/// For at most this long.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(10);
/// A `.minisig` file is a few hundred bytes; anything past this is not one.
const MAX_SIGNATURE_BYTES: usize = 64 << 10;

/// PUT of a package file.
pub(super) async fn put(
    repo: &Repository,
    path: &TreePath,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    if let Err(refusal) = super::auth::authorize(repo.database(), headers, Scope::Publish).await {
        drain(body.into_data_stream()).await;
        return Err(refusal);
    }
    match path.file {
        PackageFile::Archive => put_archive(repo, path, headers, body).await,
        PackageFile::Signature => put_signature(repo, path, body).await,
        PackageFile::Spdx | PackageFile::CycloneDx | PackageFile::Provenance => {
            put_attestation(repo, path, body).await
        }
        PackageFile::Index => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "the index is written by the repository from the archive; PUT the .bale instead",
        )),
    }
}

/// Removes uploads that a server killed mid-receive left behind.
pub(super) fn remove_stale_uploads(scratch: &Path) -> Result<(), RepoError> {
    let entries = std::fs::read_dir(scratch).map_err(|e| RepoError::io(scratch, e))?;
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(UPLOAD_PREFIX)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// An upload received into the scratch directory; removed when dropped.
struct Upload {
    file: tempfile::TempPath,
    size: u64,
    digest: String,
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the upload is larger than this repository accepts ({limit} bytes); raise the server's upload limit to publish it"),
    )
}

async fn receive(repo: &Repository, headers: &HeaderMap, body: Body) -> Result<Upload, ApiError> {
    let limit = repo.options().max_upload_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        drain(body.into_data_stream()).await;
        return Err(too_large(limit));
    }
    let scratch = &repo.options().scratch_dir;
    let temp = tempfile::Builder::new()
        .prefix(UPLOAD_PREFIX)
        .tempfile_in(scratch)
        .map_err(|e| RepoError::io(scratch, e))?;
    let (std_file, temp_path) = temp.into_parts();
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(std_file));
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request("upload_failed", format!("the upload broke off: {e}"))
        })?;
        size += chunk.len() as u64;
        if size > limit {
            drain(stream).await;
            return Err(too_large(limit));
        }
        hasher.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| RepoError::io(&*temp_path, e))?;
    }
    out.flush()
        .await
        .map_err(|e| RepoError::io(&*temp_path, e))?;
    if declared.is_some_and(|n| n != size) {
        return Err(ApiError::bad_request(
            "upload_failed",
            "the upload is shorter than its Content-Length",
        ));
    }
    Ok(Upload {
        file: temp_path,
        size,
        digest: format!("sha256:{}", hex::encode(hasher.finalize())),
    })
}

/// Reads and discards what is left of a refused upload, within bounds, so
/// that the client finishes sending and reads the 413 instead of seeing the
/// connection break under it.
async fn drain(mut stream: axum::body::BodyDataStream) {
    let mut drained = 0u64;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = stream.next().await {
            drained += chunk.len() as u64;
            if drained > DRAIN_MAX_BYTES {
                break;
            }
        }
    })
    .await;
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RepoError::Internal(e.to_string()).into())
}

async fn put_archive(
    repo: &Repository,
    path: &TreePath,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The body is read first so that any refusal reaches a client that is still sending.
    let upload = receive(repo, headers, body).await?;
    let signature = match headers.get(SIGNATURE_HEADER) {
        Some(value) => Some(decode_signature_header(value.as_bytes())?),
        None => None,
    };

    // The cheap checks first: the index alone (the head of the archive)
    // names the coordinate, and the signature is a hash of the compressed
    // bytes; only an upload that passes both is decompressed whole.
    let file: PathBuf = upload.file.to_path_buf();
    let head = blocking(move || {
        let input = std::fs::File::open(&file).map_err(|e| e.to_string())?;
        bale_archive::read_index_with(BufReader::new(input), &Limits::default())
            .map(|(index, _)| index)
            .map_err(|e| crate::client::root_cause(&e))
    })
    .await?
    .map_err(invalid_archive)?;

    let expected = path.coordinate.to_string();
    if head.coordinate != expected {
        return Err(ApiError::bad_request(
            "coordinate_mismatch",
            format!("the archive is {} but was uploaded to the path of {expected}; upload it to its own path", head.coordinate),
        )
        .with_details(serde_json::json!({ "url": expected, "archive": head.coordinate })));
    }
    // A name from before architectures (an older client) takes the index's.
    let arch = head.arch().to_owned();
    if let Some(named) = path.arch.as_deref().filter(|named| *named != arch) {
        return Err(ApiError::bad_request(
            "arch_mismatch",
            format!("the archive of {expected} is built for {arch} but was uploaded as {named}; upload it to its own path ({})", PackageFile::Archive.arch_file_name(&path.coordinate, &arch)),
        )
        .with_details(serde_json::json!({ "url": named, "archive": arch })));
    }

    let key_id = match &signature {
        Some((_, signature)) => Some(check_signature(repo, upload.file.to_path_buf(), signature.clone(), &expected).await?),
        None if repo.options().allow_unsigned => None,
        None => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "unsigned",
                format!("{expected} is not signed and this repository accepts only signed packages: sign it with `bale sign` and publish again"),
            ))
        }
    };

    let file: PathBuf = upload.file.to_path_buf();
    let index = blocking(move || {
        let input = std::fs::File::open(&file).map_err(|e| e.to_string())?;
        bale_archive::verify(BufReader::new(input), &Limits::default()).map_err(|e| e.to_string())
    })
    .await?
    .map_err(invalid_archive)?;

    let package = VerifiedPackage {
        coordinate: &path.coordinate,
        index: &index,
        archive: &upload.file,
        digest: &upload.digest,
        size: upload.size,
        signature: signature.as_ref().map(|(text, _)| text.as_str()),
        key_id: key_id.as_deref(),
    };
    match store_package(repo.storage(), repo.database(), &package).await? {
        Stored::New => Ok(outcome(StatusCode::CREATED, PublishStatus::Published, &expected, &arch, &upload.digest, upload.size, key_id.as_deref())),
        Stored::Again => Ok(outcome(StatusCode::OK, PublishStatus::Unchanged, &expected, &arch, &upload.digest, upload.size, key_id.as_deref())),
        Stored::Unchanged(existing) => {
            Ok(outcome(StatusCode::OK, PublishStatus::Unchanged, &expected, &arch, &existing.digest, existing.size, existing.key_id.as_deref()))
        }
        Stored::Conflict(existing) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "{expected} for {arch} is already published as {} and the upload is {}; a coordinate and architecture never change, so publish a new version",
                existing.digest, upload.digest
            ),
        )
        .with_details(serde_json::json!({ "existing": existing.digest, "uploaded": upload.digest }))),
    }
}

fn invalid_archive(reason: String) -> ApiError {
    ApiError::bad_request(
        "invalid_archive",
        format!("the upload is not a valid .bale package: {reason}"),
    )
}

fn outcome(
    status: StatusCode,
    word: PublishStatus,
    coordinate: &str,
    arch: &str,
    digest: &str,
    size: u64,
    key_id: Option<&str>,
) -> Response {
    let body = PublishOutcome {
        status: word,
        coordinate: coordinate.to_owned(),
        arch: Some(arch.to_owned()),
        digest: digest.to_owned(),
        size,
        signed_by: key_id.map(str::to_owned),
    };
    (status, Json(body)).into_response()
}

fn decode_signature_header(value: &[u8]) -> Result<(String, Signature), ApiError> {
    let bad = |reason: String| {
        ApiError::bad_request(
            "bad_signature",
            format!(
                "the {SIGNATURE_HEADER} header must hold a base64-encoded .minisig file: {reason}"
            ),
        )
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| bad(e.to_string()))?;
    parse_signature(bytes).map_err(bad)
}

fn parse_signature(bytes: Vec<u8>) -> Result<(String, Signature), String> {
    let text = String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())?;
    let signature =
        Signature::from_file_string(&text).map_err(|e| crate::client::root_cause(&e))?;
    Ok((text, signature))
}

/// Verifies `signature` over the file against the repository's trusted keys; returns the key id.
async fn check_signature(
    repo: &Repository,
    file: PathBuf,
    signature: Signature,
    coordinate: &str,
) -> Result<String, ApiError> {
    let keys_dir = repo.options().trusted_keys_dir.clone();
    let verdict = blocking(move || {
        let keyring = Keyring::load(&keys_dir)?;
        let input = std::fs::File::open(&file).map_err(SignError::ReadData)?;
        keyring
            .verify(BufReader::new(input), &signature)
            .map(|key| key.key_id().to_string())
    })
    .await?;
    verdict.map_err(|error| match error {
        SignError::UntrustedKey(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "untrusted_signature",
            format!("{coordinate}: {error}; the repository's trusted keys are in its trusted-keys directory"),
        ),
        SignError::Io { .. } | SignError::InvalidKeyringFile { .. } => {
            ApiError::from(RepoError::Sign(error))
        }
        other => ApiError::bad_request("bad_signature", format!("{coordinate}: {other}")),
    })
}

async fn put_signature(
    repo: &Repository,
    path: &TreePath,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_SIGNATURE_BYTES)
        .await
        .map_err(|_| too_large(MAX_SIGNATURE_BYTES as u64))?;
    let (text, signature) = parse_signature(bytes.to_vec()).map_err(|reason| {
        ApiError::bad_request(
            "bad_signature",
            format!("the body is not a .minisig file: {reason}"),
        )
    })?;
    let (coordinate, arch, record) = published(repo, path, " (with its signature)").await?;
    let storage = repo.storage();
    let archive_key = super::tree::stored_key(repo, &path.coordinate, &arch, PackageFile::Archive)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{coordinate} for {arch} has no archive in storage; publish it again"
            ))
        })?;
    // The signature goes beside the archive, under the same kind of name.
    let signature_key = if archive_key == key(&path.coordinate, PackageFile::Archive) {
        key(&path.coordinate, PackageFile::Signature)
    } else {
        arch_key(&path.coordinate, &arch, PackageFile::Signature)
    };
    if let Some(existing) = storage.read_small(&signature_key).await? {
        if existing == text.as_bytes() {
            return Ok(outcome(
                StatusCode::OK,
                PublishStatus::Unchanged,
                &coordinate,
                &arch,
                &record.digest,
                record.size,
                record.key_id.as_deref(),
            ));
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("{coordinate} already has a different signature; a published signature is never replaced"),
        ));
    }
    let scratch = &repo.options().scratch_dir;
    let temp = tempfile::Builder::new()
        .prefix(UPLOAD_PREFIX)
        .tempfile_in(scratch)
        .map_err(|e| RepoError::io(scratch, e))?
        .into_temp_path();
    if !storage.download(&archive_key, &temp).await? {
        return Err(ApiError::not_found(format!(
            "{coordinate} has no archive in storage; publish it again"
        )));
    }
    let key_id = check_signature(repo, temp.to_path_buf(), signature, &coordinate).await?;
    // The claim, as a package upload's: of concurrent signatures exactly one
    // sets the key of a package that had none, and only it writes.
    if !packages::set_key_id(repo.database(), &coordinate, &arch, &key_id).await? {
        return match storage.read_small(&signature_key).await? {
            Some(existing) if existing == text.as_bytes() => Ok(outcome(
                StatusCode::OK,
                PublishStatus::Unchanged,
                &coordinate,
                &arch,
                &record.digest,
                record.size,
                Some(&key_id),
            )),
            _ => Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("{coordinate} already has a signature (or one is being stored); a published signature is never replaced"),
            )),
        };
    }
    if let Err(error) = storage.put_bytes(&signature_key, Bytes::from(text)).await {
        let _ = packages::clear_key_id(repo.database(), &coordinate, &arch, &key_id).await;
        return Err(error.into());
    }
    Ok(outcome(
        StatusCode::CREATED,
        PublishStatus::Signed,
        &coordinate,
        &arch,
        &record.digest,
        record.size,
        Some(&key_id),
    ))
}

/// The published package a signature or attestation at `path` belongs to:
/// its coordinate, architecture and record. A name from before
/// architectures belongs to the package published under it. `then` ends
/// the error that says to PUT the `.bale` first.
async fn published(
    repo: &Repository,
    path: &TreePath,
    then: &str,
) -> Result<(String, String, packages::PackageRecord), ApiError> {
    let coordinate = path.coordinate.to_string();
    let arch = path
        .arch
        .as_deref()
        .unwrap_or(bale_archive::LEGACY_ARCH)
        .to_owned();
    let record = packages::get(repo.database(), &coordinate, &arch)
        .await?
        .filter(|r| r.stored)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "{coordinate} for {arch} is not published; PUT the .bale first{then}"
            ))
        })?;
    Ok((coordinate, arch, record))
}

/// PUT of an SBOM or the provenance of a published package: JSON, and a
/// provenance signed by a key the repository trusts about the published
/// bytes. Never replaced, as a signature is not.
async fn put_attestation(
    repo: &Repository,
    path: &TreePath,
    body: Body,
) -> Result<Response, ApiError> {
    let name = path.file_name();
    let bytes = axum::body::to_bytes(body, MAX_ATTESTATION_BYTES)
        .await
        .map_err(|_| too_large(MAX_ATTESTATION_BYTES as u64))?;
    let (coordinate, arch, record) = published(repo, path, &format!(", then {name}")).await?;
    if serde_json::from_slice::<serde_json::Value>(&bytes).is_err() {
        return Err(ApiError::bad_request(
            "bad_attestation",
            format!("{name} must be a JSON document"),
        ));
    }
    let signed_by = if path.file == PackageFile::Provenance {
        Some(check_provenance(repo, bytes.to_vec(), &record.digest, &coordinate).await?)
    } else {
        None
    };
    let storage = repo.storage();
    let object = path.key();
    let answer = |status: StatusCode, published: PublishStatus| {
        outcome(
            status,
            published,
            &coordinate,
            &arch,
            &record.digest,
            record.size,
            signed_by.as_deref().or(record.key_id.as_deref()),
        )
    };
    let conflict = |why: &str| {
        ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("{coordinate} already has a different {name}{why}; a published file is never replaced"),
        )
    };
    // As for a signature: the same bytes again change nothing, other bytes are refused.
    if let Some(existing) = storage.read_small(&object).await? {
        if existing == bytes {
            return Ok(answer(StatusCode::OK, PublishStatus::Unchanged));
        }
        return Err(conflict(""));
    }
    // The claim, as a signature's: of concurrent uploads exactly one writes;
    // the others answer as if it had been stored before them.
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    let suffix = path.file.attestation_suffix().unwrap_or_default();
    let db = repo.database();
    match packages::claim_attestation(db, &coordinate, &arch, suffix, &digest).await? {
        packages::AttestationClaim::Claimed => {}
        packages::AttestationClaim::Existing(existing) if existing == digest => {
            return Ok(answer(StatusCode::OK, PublishStatus::Unchanged));
        }
        packages::AttestationClaim::Existing(_) => {
            return Err(conflict(" (or one is being stored)"));
        }
    }
    if let Err(error) = storage.put_bytes(&object, bytes).await {
        let _ = packages::release_attestation(db, &coordinate, &arch, suffix, &digest).await;
        return Err(error.into());
    }
    Ok(answer(StatusCode::CREATED, PublishStatus::Published))
}

/// Verifies a provenance envelope against the repository's trusted keys and
/// the published archive's `sha256:<hex>` digest; returns the key id.
async fn check_provenance(
    repo: &Repository,
    bytes: Vec<u8>,
    digest: &str,
    coordinate: &str,
) -> Result<String, ApiError> {
    let keys_dir = repo.options().trusted_keys_dir.clone();
    let sha256 = digest.strip_prefix("sha256:").unwrap_or(digest).to_owned();
    let verdict = blocking(move || {
        let envelope = bale_sbom::Envelope::from_slice(&bytes)?;
        let keyring = Keyring::load(&keys_dir)?;
        envelope.verify(&keyring, &sha256).map(|v| v.key_id)
    })
    .await?;
    verdict.map_err(|error| match error {
        bale_sbom::SbomError::UntrustedKey(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "untrusted_signature",
            format!("{coordinate}: {error}; the repository's trusted keys are in its trusted-keys directory"),
        ),
        other => ApiError::bad_request("bad_provenance", format!("{coordinate}: {other}")),
    })
}
