//! `--push REGISTRY/NAME:TAG`: an image of a layout sent to a registry over
//! the OCI distribution API: each blob the registry lacks (`HEAD`, then a
//! `POST` upload and a `PUT` with its digest), then the manifest (`PUT` by
//! tag). A `401` answer's `WWW-Authenticate` says how to authenticate:
//! `Bearer` fetches a token from its realm (with the credentials, when
//! given), `Basic` sends the credentials. Credentials come from
//! [`CREDENTIALS_ENV`], never from the command line; neither they nor a
//! token appear in any message.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::Value;

use super::image::{MANIFEST_MEDIA_TYPE, REF_NAME};
use crate::ExportError;

/// The variable holding registry credentials as `USER:PASSWORD`.
pub const CREDENTIALS_ENV: &str = bale_home::env::BALE_REGISTRY_AUTH;

/// A user and password for a registry.
#[derive(Clone)]
pub struct Credentials {
    user: String,
    password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// The credentials in [`CREDENTIALS_ENV`] (`USER:PASSWORD`), if set.
    pub fn from_env() -> Result<Option<Credentials>, ExportError> {
        match std::env::var(CREDENTIALS_ENV)
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(value) => Credentials::parse(&value).map(Some),
            None => Ok(None),
        }
    }

    /// Reads `USER:PASSWORD`.
    pub fn parse(value: &str) -> Result<Credentials, ExportError> {
        match value.split_once(':') {
            Some((user, password)) if !user.is_empty() => Ok(Credentials {
                user: user.to_owned(),
                password: password.to_owned(),
            }),
            _ => Err(ExportError::Refused(format!(
                "{CREDENTIALS_ENV} must be USER:PASSWORD (or a token as the password)"
            ))),
        }
    }
}

/// An image's name: `[REGISTRY/]REPOSITORY:TAG`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// The registry's host and port, when the name has one.
    pub registry: Option<String>,
    /// The repository (`name`, `group/name`).
    pub repository: String,
    /// The tag.
    pub tag: String,
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

impl ImageName {
    /// The default name of a package's image: its name, its version as the tag
    /// (with the characters a tag cannot hold written `_`).
    pub fn of_package(name: &str, version: &str) -> ImageName {
        let tag: String = version
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        ImageName {
            registry: None,
            repository: name.to_owned(),
            tag,
        }
    }

    /// Reads `--tag NAME:TAG` (a name without a tag gets `latest`).
    pub fn parse_tag(text: &str) -> Result<ImageName, ExportError> {
        let (repository, tag) = split_tag(text);
        check(text, repository, tag)?;
        Ok(ImageName {
            registry: None,
            repository: repository.to_owned(),
            tag: tag.to_owned(),
        })
    }

    /// Reads `--push REGISTRY/NAME:TAG`.
    pub fn parse_target(text: &str) -> Result<ImageName, ExportError> {
        let bad = || {
            ExportError::Refused(format!(
                "--push {text:?}: give REGISTRY/NAME:TAG, like registry.example.org/team/app:1.0"
            ))
        };
        let (registry, rest) = text.split_once('/').ok_or_else(bad)?;
        let host_ok = !registry.is_empty()
            && registry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !host_ok {
            return Err(bad());
        }
        let (repository, tag) = split_tag(rest);
        check(text, repository, tag)?;
        Ok(ImageName {
            registry: Some(registry.to_owned()),
            repository: repository.to_owned(),
            tag: tag.to_owned(),
        })
    }
}

fn split_tag(text: &str) -> (&str, &str) {
    match text.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => (repository, tag),
        _ => (text, "latest"),
    }
}

/// The distribution spec's rules: lower-case path components joined by
/// `/`, and a tag of `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
fn check(text: &str, repository: &str, tag: &str) -> Result<(), ExportError> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            && c.chars().all(|ch| {
                ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '.' | '_' | '-')
            })
    };
    if repository.len() > 255 || !repository.split('/').all(component_ok) {
        return Err(ExportError::Refused(format!(
            "{text:?}: an image name is lower-case letters, digits and . _ - in parts joined by /"
        )));
    }
    let mut chars = tag.chars();
    let tag_ok = tag.len() <= 128
        && matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !tag_ok {
        return Err(ExportError::Refused(format!(
            "{text:?}: a tag is letters, digits and . _ - (at most 128, not starting with . or -)"
        )));
    }
    Ok(())
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// Where the image is now (`REGISTRY/NAME:TAG`).
    pub reference: String,
    /// The manifest's digest.
    pub digest: String,
    /// Blobs uploaded.
    pub uploaded: usize,
    /// Blobs the registry already had.
    pub present: usize,
}

/// Pushes the image tagged `tag` in the layout `layout` to `target`.
pub async fn push(
    layout: &Path,
    tag: &str,
    target: &ImageName,
    credentials: Option<&Credentials>,
) -> Result<Pushed, ExportError> {
    let registry = target.registry.clone().unwrap_or_default();
    let fail = |reason: String| ExportError::Push {
        registry: registry.clone(),
        reason,
    };
    let index_path = layout.join("index.json");
    let index: Value = read_json(&index_path)?;
    let digest = index["manifests"]
        .as_array()
        .and_then(|list| list.iter().find(|m| m["annotations"][REF_NAME] == tag))
        .and_then(|m| m["digest"].as_str())
        .ok_or_else(|| {
            ExportError::Refused(format!("{} has no image tagged {tag}", layout.display()))
        })?
        .to_owned();
    let manifest_bytes = read_blob(layout, &digest)?;
    let manifest: Value = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| fail(format!("the manifest {digest} is not JSON: {e}")))?;
    let mut blobs: Vec<String> = vec![manifest["config"]["digest"]
        .as_str()
        .unwrap_or_default()
        .to_owned()];
    for layer in manifest["layers"].as_array().into_iter().flatten() {
        blobs.push(layer["digest"].as_str().unwrap_or_default().to_owned());
    }
    if blobs.iter().any(|d| !is_digest(d)) {
        return Err(fail(format!(
            "the manifest {digest} names a blob without a sha256 digest"
        )));
    }

    let scheme = if is_loopback(&registry) {
        "http"
    } else {
        "https"
    };
    let base = Url::parse(&format!("{scheme}://{registry}/v2/{}/", target.repository))
        .map_err(|_| fail("not a valid registry address".into()))?;
    let client = Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| fail(format!("cannot set up HTTP: {e}")))?;
    let mut session = Session {
        client,
        credentials: credentials.cloned(),
        authorization: None,
        scope: format!("repository:{}:pull,push", target.repository),
        registry: registry.clone(),
    };

    let (mut uploaded, mut present) = (0, 0);
    for blob in &blobs {
        let url = join(&base, &format!("blobs/{blob}"), &registry)?;
        let head = session.send(Method::HEAD, &url, None, None).await?;
        if head.status().is_success() {
            present += 1;
            continue;
        }
        let bytes = read_blob(layout, blob)?;
        let start = join(&base, "blobs/uploads/", &registry)?;
        let started = session
            .send(Method::POST, &start, None, Some(Vec::new()))
            .await?;
        if started.status() != StatusCode::ACCEPTED {
            return Err(fail(format!(
                "starting the upload of {blob}: {}",
                describe(started).await
            )));
        }
        let location = started
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| start.join(l).ok())
            .ok_or_else(|| fail(format!("the upload of {blob} got no Location")))?;
        let mut put = location;
        put.query_pairs_mut().append_pair("digest", blob);
        let done = session
            .send(
                Method::PUT,
                &put,
                Some("application/octet-stream"),
                Some(bytes),
            )
            .await?;
        if done.status() != StatusCode::CREATED {
            return Err(fail(format!("uploading {blob}: {}", describe(done).await)));
        }
        uploaded += 1;
    }
    let url = join(&base, &format!("manifests/{}", target.tag), &registry)?;
    let answer = session
        .send(
            Method::PUT,
            &url,
            Some(MANIFEST_MEDIA_TYPE),
            Some(manifest_bytes),
        )
        .await?;
    if answer.status() != StatusCode::CREATED {
        return Err(fail(format!("the manifest: {}", describe(answer).await)));
    }
    if let Some(theirs) = answer
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
    {
        if theirs != digest {
            return Err(fail(format!(
                "the registry stored the manifest as {theirs}, not {digest}"
            )));
        }
    }
    Ok(Pushed {
        reference: target.to_string(),
        digest,
        uploaded,
        present,
    })
}

/// Requests to one registry, authenticated the way its `401` asks.
struct Session {
    client: Client,
    credentials: Option<Credentials>,
    /// The `Authorization` value that worked, kept for the next requests.
    authorization: Option<HeaderValue>,
    scope: String,
    registry: String,
}

impl Session {
    async fn send(
        &mut self,
        method: Method,
        url: &Url,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, ExportError> {
        let body = body.map(bytes::Bytes::from);
        let mut authenticated = false;
        loop {
            let mut request = self.client.request(method.clone(), url.clone());
            if let Some(value) = &self.authorization {
                request = request.header(AUTHORIZATION, value.clone());
            }
            if let Some(content_type) = content_type {
                request = request.header(CONTENT_TYPE, content_type);
            }
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.fail(format!("{}: {}", shown(url), root_cause(&e))))?;
            if response.status() != StatusCode::UNAUTHORIZED || authenticated {
                if response.status() == StatusCode::UNAUTHORIZED {
                    return Err(self.fail(format!(
                        "{} refused the credentials{}",
                        shown(url),
                        if self.credentials.is_some() {
                            ""
                        } else {
                            "; set BALE_REGISTRY_AUTH=USER:PASSWORD"
                        }
                    )));
                }
                return Ok(response);
            }
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            self.authorization = Some(self.authenticate(&challenge).await?);
            authenticated = true;
        }
    }

    /// The `Authorization` header value a `WWW-Authenticate` challenge asks for.
    async fn authenticate(&self, challenge: &str) -> Result<HeaderValue, ExportError> {
        let (scheme, params) = parse_challenge(challenge);
        if scheme.eq_ignore_ascii_case("basic") {
            let Some(credentials) = &self.credentials else {
                return Err(self.fail(format!(
                    "the registry wants a user and password: set {CREDENTIALS_ENV}=USER:PASSWORD"
                )));
            };
            return Ok(basic(credentials));
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(self.fail(format!(
                "the registry asks for authentication bale does not speak ({})",
                if scheme.is_empty() {
                    "none named"
                } else {
                    &scheme
                }
            )));
        }
        let realm = params
            .iter()
            .find(|(k, _)| k == "realm")
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.fail("its Bearer challenge names no realm".into()))?;
        let mut url = Url::parse(&realm)
            .map_err(|_| self.fail(format!("its token realm {realm:?} is not a URL")))?;
        if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
            url.query_pairs_mut().append_pair("service", service);
        }
        let scope = params
            .iter()
            .find(|(k, _)| k == "scope")
            .map_or(self.scope.as_str(), |(_, v)| v.as_str());
        url.query_pairs_mut().append_pair("scope", scope);
        let mut request = self.client.get(url.clone());
        if let Some(credentials) = &self.credentials {
            request = request.header(AUTHORIZATION, basic(credentials));
        }
        let response = request.send().await.map_err(|e| {
            self.fail(format!(
                "the token service {}: {}",
                shown(&url),
                root_cause(&e)
            ))
        })?;
        if !response.status().is_success() {
            return Err(self.fail(format!(
                "the token service {} answered {}{}",
                shown(&url),
                response.status(),
                if self.credentials.is_some() {
                    ""
                } else {
                    "; set BALE_REGISTRY_AUTH=USER:PASSWORD"
                }
            )));
        }
        let answer: Value = response.json().await.map_err(|_| {
            self.fail(format!(
                "the token service {} did not answer JSON",
                shown(&url)
            ))
        })?;
        let token = answer["token"]
            .as_str()
            .or_else(|| answer["access_token"].as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.fail(format!("the token service {} gave no token", shown(&url))))?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            self.fail("the token service gave a token that is no header value".into())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    fn fail(&self, reason: String) -> ExportError {
        ExportError::Push {
            registry: self.registry.clone(),
            reason,
        }
    }
}

fn basic(credentials: &Credentials) -> HeaderValue {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", credentials.user, credentials.password));
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    value.set_sensitive(true);
    value
}

/// `Bearer realm="…",service="…"` → (`Bearer`, [(realm, …), (service, …)]).
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else {
            break;
        };
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.push((key, value.to_owned()));
        rest = remaining.trim_start_matches([',', ' ']);
    }
    (scheme.to_owned(), params)
}

/// A URL as messages show it: no query (upload states), no user or password.
fn shown(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

async fn describe(response: reqwest::Response) -> String {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(300).collect();
    format!("{status} {}", body.trim())
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn join(base: &Url, rest: &str, registry: &str) -> Result<Url, ExportError> {
    base.join(rest).map_err(|_| ExportError::Push {
        registry: registry.to_owned(),
        reason: format!("cannot make a URL of {rest:?}"),
    })
}

/// A plain-HTTP registry is only one on this machine, as docker and podman allow.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => registry.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_digest(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn read_json(path: &Path) -> Result<Value, ExportError> {
    let bytes = std::fs::read(path).map_err(|e| ExportError::io(path, e))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ExportError::Refused(format!("{}: not JSON: {e}", path.display())))
}

fn read_blob(layout: &Path, digest: &str) -> Result<Vec<u8>, ExportError> {
    if !is_digest(digest) {
        return Err(ExportError::Refused(format!(
            "{digest:?} is not a sha256 digest"
        )));
    }
    let path = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::read(&path).map_err(|e| ExportError::io(&path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_challenge_gives_its_realm_service_and_scope() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example.org/token",service="registry.example.org",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(
            params,
            [
                (
                    "realm".to_owned(),
                    "https://auth.example.org/token".to_owned()
                ),
                ("service".to_owned(), "registry.example.org".to_owned()),
                ("scope".to_owned(), "repository:a/b:pull,push".to_owned()),
            ]
        );
    }

    #[test]
    fn push_targets_need_a_registry_a_lower_case_name_and_a_valid_tag() {
        let name = ImageName::parse_target("127.0.0.1:5000/team/app:1.0").expect("valid");
        assert_eq!(name.registry.as_deref(), Some("127.0.0.1:5000"));
        assert_eq!(name.repository, "team/app");
        assert_eq!(name.tag, "1.0");
        for bad in [
            "app:1.0",
            "reg/App:1",
            "reg/app:-x",
            "reg/app:a b",
            "reg/app;x:1",
        ] {
            assert!(ImageName::parse_target(bad).is_err(), "{bad}");
        }
        assert_eq!(ImageName::of_package("x", "1.0+git~2").tag, "1.0_git_2");
    }

    #[test]
    fn only_this_machine_is_spoken_to_in_plain_http() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.org"));
        assert!(!is_loopback("10.0.0.1:5000"));
    }
}
