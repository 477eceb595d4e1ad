//! `bale install URL`: a `.bale` from any http(s) URL, and its `.minisig`
//! beside it, downloaded into a scratch directory for the store to verify
//! and install. The download is bounded: a server that sends more than the
//! limit (or says it will) is cut off.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::client::{http_client, refused, transport_error, Progress};
use crate::RepoError;

/// The largest package `bale install URL` downloads.
pub const MAX_PACKAGE_BYTES: u64 = 8 << 30;
/// The largest signature file it accepts.
const MAX_SIGNATURE_BYTES: u64 = 64 << 10;
/// The name the package gets in the scratch directory (the URL's own name is the server's).
const PACKAGE_FILE: &str = "package.bale";

/// A downloaded package and its signature, not yet verified.
#[derive(Debug, Clone)]
pub struct FetchedUrl {
    /// The archive.
    pub archive: PathBuf,
    /// Its signature beside it (`archive.minisig`), when the server had one.
    pub signature: Option<PathBuf>,
}

/// `url` for messages: its user name and password left out.
pub fn shown_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// Downloads the package at `url` into `out_dir`, at most `max_bytes`, and the
/// signature at `url` + `.minisig`; a missing signature is an error unless
/// `allow_unsigned`. Nothing is verified here: the store does that.
pub async fn fetch_url(
    url: &str,
    out_dir: &Path,
    max_bytes: u64,
    allow_unsigned: bool,
    progress: Progress<'_>,
) -> Result<FetchedUrl, RepoError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| RepoError::PackageUrl(url.to_owned()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(RepoError::PackageUrl(shown_url(&parsed)));
    }
    let client = http_client()?;
    let archive = out_dir.join(PACKAGE_FILE);
    let response = client
        .get(parsed.clone())
        .send()
        .await
        .map_err(|e| network_error(&parsed, e))?;
    if !response.status().is_success() {
        return Err(match response.status() {
            reqwest::StatusCode::NOT_FOUND => RepoError::Download {
                url: shown_url(&parsed),
                reason: "404 Not Found".into(),
            },
            _ => refused(response).await,
        });
    }
    save(response, &parsed, &archive, max_bytes, progress).await?;

    let mut signature_url = parsed.clone();
    signature_url.set_path(&format!("{}.minisig", parsed.path()));
    let response = client
        .get(signature_url.clone())
        .send()
        .await
        .map_err(|e| network_error(&signature_url, e))?;
    let signature = match response.status() {
        status if status.is_success() => {
            let path = bale_sign::signature_path(&archive);
            save(
                response,
                &signature_url,
                &path,
                MAX_SIGNATURE_BYTES,
                &|_, _| {},
            )
            .await?;
            Some(path)
        }
        reqwest::StatusCode::NOT_FOUND if allow_unsigned => None,
        reqwest::StatusCode::NOT_FOUND => {
            return Err(RepoError::NoSignature {
                url: shown_url(&signature_url),
            })
        }
        _ => return Err(refused(response).await),
    };
    Ok(FetchedUrl { archive, signature })
}

/// A transport error that names `url` without its credentials.
fn network_error(url: &reqwest::Url, error: reqwest::Error) -> RepoError {
    let shown = reqwest::Url::parse(&shown_url(url)).unwrap_or_else(|_| url.clone());
    transport_error(&shown, error.without_url())
}

/// Streams `response` into `path`, refusing more than `max` bytes.
pub(crate) async fn save(
    response: reqwest::Response,
    url: &reqwest::Url,
    path: &Path,
    max: u64,
    progress: Progress<'_>,
) -> Result<(), RepoError> {
    let too_large = || RepoError::TooLarge {
        url: shown_url(url),
        max,
    };
    let total = response.content_length();
    if total.is_some_and(|t| t > max) {
        return Err(too_large());
    }
    let file = tokio::fs::File::create(path)
        .await
        .map_err(|e| RepoError::io(path, e))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut done = 0u64;
    progress(0, total);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| network_error(url, e))?;
        done += chunk.len() as u64;
        if done > max {
            return Err(too_large());
        }
        out.write_all(&chunk)
            .await
            .map_err(|e| RepoError::io(path, e))?;
        progress(done, total);
    }
    out.flush().await.map_err(|e| RepoError::io(path, e))?;
    if total.is_some_and(|t| t != done) {
        return Err(RepoError::Download {
            url: shown_url(url),
            reason: format!("got {done} of {} bytes", total.unwrap_or_default()),
        });
    }
    Ok(())
}
