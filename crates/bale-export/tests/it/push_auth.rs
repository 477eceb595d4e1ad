//! `--push` against a registry that wants a bearer token: a small fake of
//! the distribution API (a token realm that checks the credentials, blobs,
//! uploads, manifests) in this process. The real registry (docker-registry,
//! no auth) is in crates/bale's export_oci tests.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bale_export::oci::{push, Credentials, ImageName, MANIFEST_MEDIA_TYPE};
use sha2::{Digest, Sha256};

const TOKEN: &str = "t0ken-from-the-realm";
/// `alice:s3cret`.
const BASIC: &str = "Basic YWxpY2U6czNjcmV0";

#[derive(Default)]
struct Registry {
    port: u16,
    blobs: HashMap<String, Vec<u8>>,
    manifests: HashMap<String, (String, Vec<u8>)>,
    tokens_given: usize,
}

type Shared = Arc<Mutex<Registry>>;

fn sha256(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

async fn handle(State(state): State<Shared>, request: Request) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let headers: HeaderMap = request.headers().clone();
    let body = axum::body::to_bytes(request.into_body(), 1 << 24)
        .await
        .unwrap_or_default();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let mut registry = state.lock().expect("lock");
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if path == "/token" {
        if auth != BASIC || !query.contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush") {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        registry.tokens_given += 1;
        return (
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"token\":\"{TOKEN}\"}}"),
        )
            .into_response();
    }
    if auth != format!("Bearer {TOKEN}") {
        let challenge = format!(
            "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"fake\",scope=\"repository:team/app:pull,push\"",
            registry.port
        );
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
        )
            .into_response();
    }
    if let Some(digest) = path.strip_prefix("/v2/team/app/blobs/") {
        if method == Method::HEAD && digest.starts_with("sha256:") {
            return if registry.blobs.contains_key(digest) {
                StatusCode::OK.into_response()
            } else {
                StatusCode::NOT_FOUND.into_response()
            };
        }
    }
    if path == "/v2/team/app/blobs/uploads/" && method == Method::POST {
        return (
            StatusCode::ACCEPTED,
            [(header::LOCATION, "/upload/1?_state=opaque")],
        )
            .into_response();
    }
    if path == "/upload/1" && method == Method::PUT {
        let digest = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("digest="))
            .unwrap_or_default()
            .replace("%3A", ":");
        if !query.contains("_state=opaque") || sha256(&body) != digest {
            return StatusCode::BAD_REQUEST.into_response();
        }
        registry.blobs.insert(digest, body.to_vec());
        return StatusCode::CREATED.into_response();
    }
    if let Some(tag) = path.strip_prefix("/v2/team/app/manifests/") {
        if method == Method::PUT {
            let media = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let digest = sha256(&body);
            registry
                .manifests
                .insert(tag.to_owned(), (media, body.to_vec()));
            return (StatusCode::CREATED, [("Docker-Content-Digest", digest)]).into_response();
        }
    }
    StatusCode::NOT_FOUND.into_response()
}

/// A layout with one image, tagged `1.0`: a config and one layer.
fn layout(dir: &Path) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("mkdir");
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        std::fs::write(blobs.join(digest.trim_start_matches("sha256:")), bytes).expect("write");
        digest
    };
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let layer = b"not really a tar, but bytes with a digest";
    let config_digest = put(config);
    let layer_digest = put(layer);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{MANIFEST_MEDIA_TYPE}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_digest}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    let manifest_digest = put(manifest.as_bytes());
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{MANIFEST_MEDIA_TYPE}","digest":"{manifest_digest}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"1.0"}}}}]}}"#,
            manifest.len()
        ),
    )
    .expect("write");
    manifest_digest
}

async fn start_registry() -> Shared {
    let state: Shared = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    state.lock().expect("lock").port = listener.local_addr().expect("addr").port();
    let app = Router::new().fallback(handle).with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    state
}

fn credentials(value: &str) -> Credentials {
    Credentials::parse(value).expect("USER:PASSWORD")
}

#[tokio::test]
async fn a_push_fetches_a_bearer_token_with_the_credentials_and_sends_every_blob_then_the_manifest()
{
    let registry = start_registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let digest = layout(dir.path());
    let port = registry.lock().expect("lock").port;
    let target = ImageName::parse_target(&format!("127.0.0.1:{port}/team/app:1.0")).expect("name");
    let creds = credentials("alice:s3cret");
    let pushed = push(dir.path(), "1.0", &target, Some(&creds))
        .await
        .expect("pushed");
    assert_eq!(pushed.digest, digest);
    assert_eq!((pushed.uploaded, pushed.present), (2, 0));
    {
        let state = registry.lock().expect("lock");
        assert_eq!(state.blobs.len(), 2);
        let (media, _) = state.manifests.get("1.0").expect("the manifest by tag");
        assert_eq!(media, MANIFEST_MEDIA_TYPE);
        assert_eq!(state.tokens_given, 1, "one token, kept for every request");
    }
    // Again: the blobs are there, only the manifest goes.
    let again = push(dir.path(), "1.0", &target, Some(&creds))
        .await
        .expect("pushed");
    assert_eq!((again.uploaded, again.present), (0, 2));
}

#[tokio::test]
async fn refused_credentials_fail_the_push_without_showing_the_password() {
    let registry = start_registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    layout(dir.path());
    let port = registry.lock().expect("lock").port;
    let target = ImageName::parse_target(&format!("127.0.0.1:{port}/team/app:1.0")).expect("name");
    let creds = credentials("alice:wrong-password");
    let error = push(dir.path(), "1.0", &target, Some(&creds))
        .await
        .expect_err("refused");
    let text = error.to_string();
    assert!(text.contains("token service"), "{text}");
    assert!(!text.contains("wrong-password"), "{text}");
    assert!(!format!("{error:?}").contains("wrong-password"));
    assert!(registry.lock().expect("lock").manifests.is_empty());
}
