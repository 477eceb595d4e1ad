//! The repository client: `bale publish`, `bale fetch`, and the download half of `bale install`.
//!
//! Downloads stream into a temporary file beside their destination and are
//! renamed into place only after every check passed, so a failed fetch
//! leaves nothing behind. Only the tree's paths are used, so a static
//! mirror of the tree serves fetches as well as `bale serve` does.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bale_archive::{Index, Limits};
use bale_coordinate::Coordinate;
use bale_sign::{Keyring, Signature};
use base64::Engine;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::paths::{arch_key, key, PackageFile};
use crate::server::SIGNATURE_HEADER;
use crate::RepoError;

/// Called with bytes done and the total, when known, as a transfer advances.
pub type Progress<'a> = &'a (dyn Fn(u64, Option<u64>) + Send + Sync);

/// What to publish, and where.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The repository's base URL, e.g. `http://127.0.0.1:7070`.
    pub repo: String,
    /// The `.bale` file.
    pub file: PathBuf,
    /// Its `.minisig`; `None` uses `FILE.minisig` when that exists.
    pub signature: Option<PathBuf>,
    /// A bearer token with the publish scope.
    pub token: Option<String>,
}

/// Whether a publish changed the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishStatus {
    /// The package is new in the repository.
    Published,
    /// The repository already had these exact bytes.
    Unchanged,
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The package.
    pub coordinate: Coordinate,
    /// `sha256:<hex>` of the archive.
    pub digest: String,
    /// New or already there.
    pub status: PublishStatus,
    /// The archive's URL in the repository.
    pub url: String,
    /// The key id that signed it, as the repository verified it.
    pub signed_by: Option<String>,
    /// The SBOMs and provenance uploaded beside it (their file names).
    pub attestations: Vec<String>,
}

/// What to fetch, and how much to check.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The repository's base URL (`bale serve` or a static mirror).
    pub repo: String,
    /// The package.
    pub coordinate: Coordinate,
    /// Where `<name>-<version>-<arch>.bale` (and `.minisig`) are written.
    pub out_dir: PathBuf,
    /// The Debian architecture of the machine the package is for; `None` is
    /// this one's. Its build is taken, else the `all` one.
    pub arch: Option<String>,
    /// Verify the signature against these trusted keys; `None` skips the signature check.
    pub trusted_keys_dir: Option<PathBuf>,
    /// With trusted keys given: accept a package that has no signature.
    pub allow_unsigned: bool,
    /// A bearer token of any scope, for a private server (`[server] private = true`).
    pub token: Option<String>,
}

/// A fetched, checked package.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The archive in `out_dir`.
    pub archive: PathBuf,
    /// Its signature file, when the repository has one.
    pub signature: Option<PathBuf>,
    /// Its SBOMs and provenance beside it (`<archive>.spdx.json`,
    /// `.cdx.json`, `.intoto.json`), those the repository has.
    pub attestations: Vec<PathBuf>,
    /// The archive's index (every file's hash was checked against it).
    pub index: Index,
    /// `sha256:<hex>` of the archive.
    pub digest: String,
    /// The trusted key that signed it, when the signature was checked.
    pub signed_by: Option<String>,
}

pub(crate) fn http_client() -> Result<reqwest::Client, RepoError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| RepoError::Internal(format!("cannot set up HTTP: {e}")))
}

/// The URL of a package file under the repository's base URL, by its name
/// from before architectures.
pub fn file_url(
    repo: &str,
    coordinate: &Coordinate,
    file: PackageFile,
) -> Result<reqwest::Url, RepoError> {
    tree_url(repo, &key(coordinate, file))
}

/// The URL of a package file for `arch` (the name from before architectures for `None`).
pub fn arch_file_url(
    repo: &str,
    coordinate: &Coordinate,
    arch: Option<&str>,
    file: PackageFile,
) -> Result<reqwest::Url, RepoError> {
    match arch {
        Some(arch) => tree_url(repo, &arch_key(coordinate, arch, file)),
        None => file_url(repo, coordinate, file),
    }
}

/// A path under the repository's base URL.
fn tree_url(repo: &str, path: &str) -> Result<reqwest::Url, RepoError> {
    let base = if repo.ends_with('/') {
        repo.to_owned()
    } else {
        format!("{repo}/")
    };
    let base = reqwest::Url::parse(&base).map_err(|_| RepoError::RepoUrl(repo.to_owned()))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(RepoError::RepoUrl(repo.to_owned()));
    }
    base.join(path)
        .map_err(|_| RepoError::RepoUrl(repo.to_owned()))
}

pub(crate) fn transport_error(url: &reqwest::Url, error: reqwest::Error) -> RepoError {
    if error.is_connect() || error.is_timeout() {
        RepoError::Unreachable {
            url: url.to_string(),
            reason: root_cause(&error),
        }
    } else {
        RepoError::Download {
            url: url.to_string(),
            reason: root_cause(&error),
        }
    }
}

fn upload_error(url: &reqwest::Url, error: reqwest::Error) -> RepoError {
    if error.is_connect() || error.is_timeout() {
        return transport_error(url, error);
    }
    RepoError::Upload {
        url: url.to_string(),
        reason: root_cause(&error),
    }
}

/// An error and each of its causes once, on one line.
pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message = format!("{message}: {inner}");
        source = inner.source();
    }
    message
}

/// Turns an error response into [`RepoError::Refused`], reading `{"error": {"code", "message"}}`.
pub(crate) async fn refused(response: reqwest::Response) -> RepoError {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    match serde_json::from_str::<bale_api::ErrorEnvelope>(&body) {
        Ok(envelope) => RepoError::Refused {
            status: status.as_u16(),
            code: envelope.error.code,
            message: envelope.error.message,
        },
        // Not the API's envelope (a proxy's page, say): show the start of what came.
        Err(_) => RepoError::Refused {
            status: status.as_u16(),
            code: status.canonical_reason().unwrap_or("error").to_owned(),
            message: body.chars().take(500).collect(),
        },
    }
}

/// Publishes a `.bale` (and its signature) with a PUT to its coordinate's path.
pub async fn publish(
    options: &PublishOptions,
    progress: Progress<'_>,
) -> Result<Published, RepoError> {
    let file = options.file.clone();
    let index = tokio::task::spawn_blocking(move || {
        let input = std::fs::File::open(&file).map_err(|e| RepoError::io(&file, e))?;
        bale_archive::read_index(std::io::BufReader::new(input))
            .map(|(index, _)| index)
            .map_err(|e| RepoError::Archive {
                file: file.display().to_string(),
                reason: root_cause(&e),
            })
    })
    .await
    .map_err(|e| RepoError::Internal(e.to_string()))??;
    let coordinate: Coordinate =
        index
            .coordinate
            .parse()
            .map_err(|e: bale_coordinate::CoordinateError| RepoError::Archive {
                file: options.file.display().to_string(),
                reason: e.to_string(),
            })?;
    let url = arch_file_url(
        &options.repo,
        &coordinate,
        Some(index.arch()),
        PackageFile::Archive,
    )?;

    let signature_path = options.signature.clone().or_else(|| {
        let candidate = bale_sign::signature_path(&options.file);
        candidate.exists().then_some(candidate)
    });
    let signature = match &signature_path {
        Some(path) => Some(
            tokio::fs::read(path)
                .await
                .map_err(|e| RepoError::io(path, e))?,
        ),
        None => None,
    };

    let total = tokio::fs::metadata(&options.file)
        .await
        .map_err(|e| RepoError::io(&options.file, e))?
        .len();
    let input = tokio::fs::File::open(&options.file)
        .await
        .map_err(|e| RepoError::io(&options.file, e))?;
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let stream =
        tokio_util::io::ReaderStream::with_capacity(input, 256 << 10).inspect(move |chunk| {
            if let Ok(chunk) = chunk {
                counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        });
    let mut request = http_client()?
        .put(url.clone())
        .header(reqwest::header::CONTENT_LENGTH, total)
        .header(
            reqwest::header::CONTENT_TYPE,
            PackageFile::Archive.content_type(),
        )
        .body(reqwest::Body::wrap_stream(stream));
    if let Some(token) = &options.token {
        request = request.bearer_auth(token);
    }
    if let Some(bytes) = &signature {
        request = request.header(
            SIGNATURE_HEADER,
            base64::engine::general_purpose::STANDARD.encode(bytes),
        );
    }

    progress(0, Some(total));
    let send = request.send();
    tokio::pin!(send);
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let response = loop {
        tokio::select! {
            response = &mut send => break response.map_err(|e| upload_error(&url, e))?,
            _ = ticker.tick() => progress(sent.load(Ordering::Relaxed), Some(total)),
        }
    };
    progress(sent.load(Ordering::Relaxed), Some(total));

    let status = match response.status().as_u16() {
        201 => PublishStatus::Published,
        200 => PublishStatus::Unchanged,
        409 => {
            let message = match refused(response).await {
                RepoError::Refused { message, .. } => message,
                other => other.to_string(),
            };
            return Err(RepoError::Conflict {
                coordinate: coordinate.to_string(),
                message,
            });
        }
        _ => return Err(refused(response).await),
    };
    let body: bale_api::PublishOutcome = response
        .json()
        .await
        .map_err(|e| transport_error(&url, e))?;
    let attestations = publish_attestations(options, &coordinate, index.arch()).await?;
    Ok(Published {
        coordinate,
        digest: body.digest,
        status,
        url: url.to_string(),
        signed_by: body.signed_by,
        attestations,
    })
}

/// PUTs the SBOMs and the provenance found beside the published archive
/// (an unsigned provenance stays local: the repository takes only signed ones);
/// returns the names uploaded.
async fn publish_attestations(
    options: &PublishOptions,
    coordinate: &Coordinate,
    arch: &str,
) -> Result<Vec<String>, RepoError> {
    let mut uploaded = Vec::new();
    for file in PackageFile::ATTESTATIONS {
        let mut local = options.file.as_os_str().to_owned();
        local.push(file.attestation_suffix().unwrap_or_default());
        let local = PathBuf::from(local);
        let bytes = match tokio::fs::read(&local).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(RepoError::io(&local, e)),
        };
        if file == PackageFile::Provenance
            && bale_sbom::Envelope::from_slice(&bytes).is_ok_and(|e| e.signatures.is_empty())
        {
            continue;
        }
        let url = arch_file_url(&options.repo, coordinate, Some(arch), file)?;
        let mut request = http_client()?
            .put(url.clone())
            .header(reqwest::header::CONTENT_TYPE, file.content_type())
            .body(bytes);
        if let Some(token) = &options.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| upload_error(&url, e))?;
        match response.status().as_u16() {
            200 | 201 => uploaded.push(file.arch_file_name(coordinate, arch)),
            409 => {
                let message = match refused(response).await {
                    RepoError::Refused { message, .. } => message,
                    other => other.to_string(),
                };
                return Err(RepoError::Conflict {
                    coordinate: coordinate.to_string(),
                    message,
                });
            }
            _ => return Err(refused(response).await),
        }
    }
    Ok(uploaded)
}

/// Downloads a package into `out_dir`, checks every file's hash (and the
/// signature when trusted keys are given), then moves it into place.
///
/// The machine's architecture's file is taken, else the `all` one, else the
/// name from before architectures (a repository not yet migrated), which must
/// then be for the machine too.
pub async fn fetch(options: &FetchOptions, progress: Progress<'_>) -> Result<Fetched, RepoError> {
    let coordinate = &options.coordinate;
    let out_dir = &options.out_dir;
    tokio::fs::create_dir_all(out_dir)
        .await
        .map_err(|e| RepoError::io(out_dir, e))?;
    let client = http_client()?;

    let machine = options
        .arch
        .clone()
        .unwrap_or_else(|| bale_inspect::machine_arch().to_owned());
    let authorized = |request: reqwest::RequestBuilder| match &options.token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let mut found = None;
    for arch in [Some(machine.as_str()), Some(bale_inspect::ALL), None] {
        let url = arch_file_url(&options.repo, coordinate, arch, PackageFile::Archive)?;
        let response = authorized(client.get(url.clone()))
            .send()
            .await
            .map_err(|e| transport_error(&url, e))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            continue;
        }
        if !response.status().is_success() {
            return Err(refused(response).await);
        }
        found = Some((arch, url, response));
        break;
    }
    let Some((named_arch, archive_url, response)) = found else {
        return Err(not_here(&client, options, &machine).await);
    };
    let (temp_archive, digest) = download(response, &archive_url, out_dir, progress).await?;

    let signature_url = arch_file_url(
        &options.repo,
        coordinate,
        named_arch,
        PackageFile::Signature,
    )?;
    let response = authorized(client.get(signature_url.clone()))
        .send()
        .await
        .map_err(|e| transport_error(&signature_url, e))?;
    let signature_text = match response.status() {
        reqwest::StatusCode::NOT_FOUND => None,
        status if status.is_success() => Some(
            response
                .text()
                .await
                .map_err(|e| transport_error(&signature_url, e))?,
        ),
        _ => return Err(refused(response).await),
    };

    let checked_path = temp_archive.to_path_buf();
    let index = tokio::task::spawn_blocking(move || {
        let input =
            std::fs::File::open(&checked_path).map_err(|e| RepoError::io(&checked_path, e))?;
        bale_archive::verify(std::io::BufReader::new(input), &Limits::default()).map_err(|e| {
            RepoError::Archive {
                file: archive_url.to_string(),
                reason: e.to_string(),
            }
        })
    })
    .await
    .map_err(|e| RepoError::Internal(e.to_string()))??;
    if index.coordinate != coordinate.to_string() {
        return Err(RepoError::CoordinateMismatch {
            expected: coordinate.to_string(),
            found: index.coordinate,
        });
    }
    if named_arch.is_some_and(|named| named != index.arch()) {
        return Err(RepoError::CoordinateMismatch {
            expected: format!("{coordinate} for {}", named_arch.unwrap_or_default()),
            found: format!("{} for {}", index.coordinate, index.arch()),
        });
    }
    if !index.runs_on(&machine) {
        return Err(RepoError::ForeignArch {
            coordinate: coordinate.to_string(),
            archs: index.arch().to_owned(),
            machine,
        });
    }

    let signed_by = match (&options.trusted_keys_dir, &signature_text) {
        (None, _) => None,
        (Some(_), None) if options.allow_unsigned => None,
        (Some(_), None) => {
            return Err(RepoError::Unsigned {
                coordinate: coordinate.to_string(),
            })
        }
        (Some(dir), Some(text)) => {
            Some(check_signature(dir, &temp_archive, text, coordinate).await?)
        }
    };

    let archive = out_dir.join(coordinate.arch_file_name(index.arch()));
    let signature_path =
        out_dir.join(PackageFile::Signature.arch_file_name(coordinate, index.arch()));
    let signature = match &signature_text {
        Some(text) => {
            let (path, bytes) = (signature_path.clone(), text.clone().into_bytes());
            tokio::task::spawn_blocking(move || bale_fs::write_atomic(&path, &bytes))
                .await
                .map_err(|e| RepoError::Internal(e.to_string()))?
                .map_err(|e| RepoError::io(e.path, e.source))?;
            Some(signature_path)
        }
        None => {
            // A signature left by an earlier fetch would belong to other bytes.
            let _ = tokio::fs::remove_file(&signature_path).await;
            None
        }
    };
    temp_archive
        .persist(&archive)
        .map_err(|e| RepoError::io(&archive, e.error))?;
    let mut attestations = Vec::new();
    for file in PackageFile::ATTESTATIONS {
        let url = arch_file_url(&options.repo, coordinate, named_arch, file)?;
        let mut local = archive.as_os_str().to_owned();
        local.push(file.attestation_suffix().unwrap_or_default());
        let local = PathBuf::from(local);
        let response = authorized(client.get(url.clone()))
            .send()
            .await
            .map_err(|e| transport_error(&url, e))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            // One left by an earlier fetch would describe other bytes.
            let _ = tokio::fs::remove_file(&local).await;
            continue;
        }
        if !response.status().is_success() {
            return Err(refused(response).await);
        }
        // Beside the archive under a temporary name, then renamed: a failed
        // download leaves no partial file.
        let temp = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempfile_in(out_dir)
            .map_err(|e| RepoError::io(out_dir, e))?
            .into_temp_path();
        let max = crate::MAX_ATTESTATION_BYTES as u64;
        crate::url_fetch::save(response, &url, &temp, max, &|_, _| {}).await?;
        temp.persist(&local)
            .map_err(|e| RepoError::io(&local, e.error))?;
        attestations.push(local);
    }
    Ok(Fetched {
        archive,
        signature,
        attestations,
        index,
        digest,
        signed_by,
    })
}

/// Why a coordinate has no file for `machine`: the architectures it is
/// published for, when the repository's API names them (a plain mirror has
/// none), else that it is not there.
async fn not_here(client: &reqwest::Client, options: &FetchOptions, machine: &str) -> RepoError {
    let coordinate = &options.coordinate;
    let not_found = || RepoError::NotFound {
        coordinate: coordinate.to_string(),
        repo: options.repo.clone(),
    };
    let path = format!(
        "api/v1/packages/{}/{}/{}",
        coordinate.group(),
        coordinate.name(),
        coordinate.version()
    );
    let Ok(url) = tree_url(&options.repo, &path) else {
        return not_found();
    };
    let mut request = client.get(url);
    if let Some(token) = &options.token {
        request = request.bearer_auth(token);
    }
    let detail = match request.send().await {
        Ok(response) if response.status().is_success() => {
            response.json::<bale_api::PackageDetail>().await.ok()
        }
        _ => None,
    };
    match detail {
        Some(detail) if !detail.archs.is_empty() => RepoError::ForeignArch {
            coordinate: coordinate.to_string(),
            archs: detail.archs.join(", "),
            machine: machine.to_owned(),
        },
        _ => not_found(),
    }
}

async fn check_signature(
    dir: &Path,
    archive: &Path,
    text: &str,
    coordinate: &Coordinate,
) -> Result<String, RepoError> {
    let bad = |reason: String| RepoError::BadSignature {
        coordinate: coordinate.to_string(),
        reason,
    };
    let signature = Signature::from_file_string(text).map_err(|e| bad(e.to_string()))?;
    let (dir, archive) = (dir.to_path_buf(), archive.to_path_buf());
    let verdict = tokio::task::spawn_blocking(move || {
        let keyring = Keyring::load(&dir)?;
        let input = std::fs::File::open(&archive).map_err(bale_sign::SignError::ReadData)?;
        keyring
            .verify(std::io::BufReader::new(input), &signature)
            .map(|key| key.key_id().to_string())
    })
    .await
    .map_err(|e| RepoError::Internal(e.to_string()))?;
    verdict.map_err(|e| bad(e.to_string()))
}

/// Streams a response into a temporary file in `dir`, hashing it; returns the file and `sha256:<hex>`.
async fn download(
    response: reqwest::Response,
    url: &reqwest::Url,
    dir: &Path,
    progress: Progress<'_>,
) -> Result<(tempfile::TempPath, String), RepoError> {
    let total = response.content_length();
    let temp = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempfile_in(dir)
        .map_err(|e| RepoError::io(dir, e))?;
    let (file, path) = temp.into_parts();
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, tokio::fs::File::from_std(file));
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    progress(0, total);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| transport_error(url, e))?;
        hasher.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| RepoError::io(&*path, e))?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    out.flush().await.map_err(|e| RepoError::io(&*path, e))?;
    out.get_ref()
        .sync_all()
        .await
        .map_err(|e| RepoError::io(&*path, e))?;
    if total.is_some_and(|t| t != done) {
        return Err(RepoError::Download {
            url: url.to_string(),
            reason: format!(
                "got {done} of {} bytes",
                total.map_or_else(|| "?".to_owned(), |t| t.to_string())
            ),
        });
    }
    Ok((path, format!("sha256:{}", hex::encode(hasher.finalize()))))
}
