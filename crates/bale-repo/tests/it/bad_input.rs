//! Bad uploads and requests: each gets a clear error with the right status
//! and leaves the repository unchanged.

use crate::common;

use std::io::{Read, Write};

use bale_db::tokens::Scope;
use common::{archive_path, build_package, error_code, Backend, TestServer};

const HELLO: &str = "org.example:hello:2.10";

/// Asserts that neither the tree nor the API knows the package, and no upload is left in scratch.
async fn assert_nothing_stored(server: &TestServer) {
    assert_eq!(
        server.get(&archive_path(HELLO)).await.status().as_u16(),
        404
    );
    assert_eq!(
        server
            .get("/org/example/hello/2.10/hello-2.10.json")
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        server
            .get_json("/api/v1/packages/org.example/hello/2.10")
            .await
            .0,
        404
    );
    let repo_dir = server.repo.storage().local_dir().unwrap();
    let mut found = Vec::new();
    walk(&repo_dir, &mut found);
    assert!(found.is_empty(), "storage holds {found:?}");
    let leftovers: Vec<_> = std::fs::read_dir(&server.options.scratch_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        leftovers.is_empty(),
        "uploads left in scratch: {leftovers:?}"
    );
}

fn walk(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, found);
        } else {
            found.push(path);
        }
    }
}

async fn signed_upload(server: &TestServer, variant: &str) -> (Vec<u8>, std::path::PathBuf) {
    let archive = build_package(&server.work_dir(variant), HELLO, variant);
    let sig = server.publisher.sign(&archive);
    (std::fs::read(&archive).unwrap(), sig)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_is_not_a_bale_is_refused() {
    let server = TestServer::start(Backend::Local, |o| o.allow_unsigned = true).await;
    let token = server.token(Scope::Publish).await;
    let (status, code, message) = error_code(
        server
            .put(
                &archive_path(HELLO),
                b"just some text\n".to_vec(),
                Some(&token),
                None,
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "invalid_archive"),
        "{message}"
    );
    assert!(message.contains("not a valid .bale"), "{message}");
    assert_nothing_stored(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_upload_is_refused() {
    let server = TestServer::start(Backend::Local, |o| o.allow_unsigned = true).await;
    let token = server.token(Scope::Publish).await;
    let (bytes, _) = signed_upload(&server, "a").await;
    let truncated = bytes[..bytes.len() * 2 / 3].to_vec();
    let (status, code, message) = error_code(
        server
            .put(&archive_path(HELLO), truncated, Some(&token), None)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "invalid_archive"),
        "{message}"
    );
    assert_nothing_stored(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_that_lies_about_a_hash_is_refused() {
    let server = TestServer::start(Backend::Local, |o| o.allow_unsigned = true).await;
    let token = server.token(Scope::Publish).await;
    let (bytes, _) = signed_upload(&server, "a").await;
    // Change one byte of etc/hello.conf's content; the index keeps the old hash.
    let mut tar = Vec::new();
    zstd::Decoder::new(bytes.as_slice())
        .unwrap()
        .read_to_end(&mut tar)
        .unwrap();
    let needle = b"variant = a\n";
    let at = tar
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the config's content is in the tar");
    tar[at + 10] = b'z';
    let mut lying = Vec::new();
    let mut encoder = zstd::Encoder::new(&mut lying, 3).unwrap();
    encoder.write_all(&tar).unwrap();
    encoder.finish().unwrap();

    let (status, code, message) = error_code(
        server
            .put(&archive_path(HELLO), lying, Some(&token), None)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "invalid_archive"),
        "{message}"
    );
    assert!(
        message.contains("etc/hello.conf"),
        "the message names the file: {message}"
    );
    assert_nothing_stored(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_uploaded_to_another_coordinates_path_is_refused() {
    let server = TestServer::start(Backend::Local, |_| {}).await;
    let token = server.token(Scope::Publish).await;
    let (bytes, sig) = signed_upload(&server, "a").await;
    let other = "/org/example/hello/3.0/hello-3.0.bale";
    let (status, code, message) =
        error_code(server.put(other, bytes, Some(&token), Some(&sig)).await).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "coordinate_mismatch"),
        "{message}"
    );
    assert!(
        message.contains(HELLO) && message.contains("org.example:hello:3.0"),
        "{message}"
    );
    assert_eq!(server.get(other).await.status().as_u16(), 404);
    assert_nothing_stored(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_past_the_size_limit_is_413_and_stores_nothing() {
    let server = TestServer::start(Backend::Local, |o| o.max_upload_bytes = 2000).await;
    let token = server.token(Scope::Publish).await;
    let (bytes, sig) = signed_upload(&server, "a").await;
    assert!(bytes.len() > 2000, "the fixture is larger than the limit");
    let (status, code, _) = error_code(
        server
            .put(
                &archive_path(HELLO),
                bytes.clone(),
                Some(&token),
                Some(&sig),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));

    // Without a Content-Length the limit is enforced while receiving.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(500).map(|c| Ok(c.to_vec())).collect();
    let response = reqwest::Client::new()
        .put(format!("{}{}", server.url, archive_path(HELLO)))
        .bearer_auth(&token)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    assert_nothing_stored(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_unknown_token_is_401_and_a_token_of_another_scope_is_403() {
    let server = TestServer::start(Backend::Local, |_| {}).await;
    let (bytes, sig) = signed_upload(&server, "a").await;
    let path = archive_path(HELLO);

    let response = server.put(&path, bytes.clone(), None, Some(&sig)).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, code, message) = error_code(response).await;
    assert_eq!((status, code.as_str()), (401, "unauthorized"));
    assert!(
        message.contains("bale token create --scope publish"),
        "{message}"
    );

    let (status, _, _) = error_code(
        server
            .put(&path, bytes.clone(), Some("bale_not_a_token"), Some(&sig))
            .await,
    )
    .await;
    assert_eq!(status, 401);

    let build = server.token(Scope::Build).await;
    let (status, code, message) = error_code(
        server
            .put(&path, bytes.clone(), Some(&build), Some(&sig))
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert!(message.contains("build scope"), "{message}");
    assert_nothing_stored(&server).await;

    let admin = server.token(Scope::Admin).await;
    assert_eq!(
        server
            .put(&path, bytes, Some(&admin), Some(&sig))
            .await
            .status()
            .as_u16(),
        201
    );
}

/// Sends a request line as written, without any client normalising the path.
fn raw_request(addr: std::net::SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_tricks_in_the_url_are_refused() {
    let server = TestServer::start(Backend::Local, |o| o.allow_unsigned = true).await;
    // A file beside the storage that a trick might reach.
    let repo_dir = server.repo.storage().local_dir().unwrap();
    std::fs::write(repo_dir.parent().unwrap().join("secret.txt"), "secret").unwrap();
    let token = server.token(Scope::Publish).await;
    let addr = server.addr;
    let tricks = [
        "/../secret.txt",
        "/org/../../secret.txt",
        "/org/example/hello/2.10/..%2F..%2F..%2F..%2Fsecret.txt",
        "/org/example/hello/%2e%2e/%2e%2e/secret.txt",
        "/org%2Fexample/hello/2.10/hello-2.10.bale",
        "/org/example/hello/2.10%5C..%5Chello-2.10.bale",
    ];
    for path in tricks {
        let (status, response) =
            tokio::task::spawn_blocking(move || raw_request(addr, "GET", path))
                .await
                .unwrap();
        assert_eq!(status, 400, "GET {path}: {response}");
        assert!(
            !response.contains("secret\n") && !response.ends_with("secret"),
            "GET {path} leaked the file"
        );
        assert!(response.contains("\"error\""), "{response}");
        let response = server.put(path, b"x".to_vec(), Some(&token), None).await;
        // reqwest normalises plain `..` away; whatever reaches the server must not be stored.
        assert!(
            matches!(response.status().as_u16(), 400 | 404),
            "PUT {path}: {}",
            response.status()
        );
    }
    let mut found = Vec::new();
    walk(&repo_dir, &mut found);
    assert!(found.is_empty(), "{found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_outside_the_tree_layout_are_404_and_other_methods_405() {
    let server = TestServer::start(Backend::Local, |_| {}).await;
    for path in [
        "/",
        "/org/example/hello/2.10/",
        "/org/example/hello/2.10/other.txt",
        "/org.example/hello/2.10/hello-2.10.bale",
    ] {
        let (status, code, _) = error_code(server.get(path).await).await;
        assert_eq!((status, code.as_str()), (404, "not_found"), "{path}");
    }
    let response = reqwest::Client::new()
        .delete(format!("{}{}", server.url, archive_path(HELLO)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let token = server.token(Scope::Publish).await;
    let (status, _, _) = error_code(
        server
            .put(
                "/org/example/hello/2.10/hello-2.10.json",
                b"{}".to_vec(),
                Some(&token),
                None,
            )
            .await,
    )
    .await;
    assert_eq!(status, 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reports_large_refused_uploads_as_413_and_401() {
    let server = TestServer::start(Backend::Local, |o| o.max_upload_bytes = 1 << 20).await;
    let token = server.token(Scope::Publish).await;
    let archive = common::build_package_with_data(&server.work_dir("big"), HELLO, "a", 24 << 20);
    server.publisher.sign(&archive);
    let options = bale_repo::PublishOptions {
        repo: server.url.clone(),
        file: archive,
        signature: None,
        token: Some(token),
    };
    let err = bale_repo::client::publish(&options, &|_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, bale_repo::RepoError::Refused { status: 413, .. }),
        "{err}"
    );
    // A refused token on a large upload is read as such too.
    let anonymous = bale_repo::PublishOptions {
        token: None,
        ..options
    };
    let err = bale_repo::client::publish(&anonymous, &|_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, bale_repo::RepoError::Refused { status: 401, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("bale token create"), "{err}");
    assert_nothing_stored(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_that_inflates_to_zeros_after_its_end_is_refused() {
    let server = TestServer::start(Backend::Local, |o| o.allow_unsigned = true).await;
    let token = server.token(Scope::Publish).await;
    let (bytes, _) = signed_upload(&server, "a").await;
    let mut tar = Vec::new();
    zstd::Decoder::new(bytes.as_slice())
        .unwrap()
        .read_to_end(&mut tar)
        .unwrap();
    // 1 GiB of zeros after the archive's end, in a few hundred KiB.
    let mut bomb = Vec::new();
    let mut encoder = zstd::Encoder::new(&mut bomb, 19).unwrap();
    encoder.write_all(&tar).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap();
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());

    let (status, code, message) = error_code(
        server
            .put(&archive_path(HELLO), bomb, Some(&token), None)
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (400, "invalid_archive"),
        "{message}"
    );
    assert!(message.contains("follows the end"), "{message}");
    assert_nothing_stored(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_framework_refuses_gets_the_json_error_envelope() {
    let server = TestServer::start(Backend::Local, |_| {}).await;
    let response = server.get("/api/v1/packages?q=a&q=b").await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{:?}",
        response.headers()
    );
    let (status, code, message) = error_code(response).await;
    assert_eq!((status, code.as_str()), (400, "bad_request"), "{message}");
    assert!(message.contains("duplicate"), "{message}");
}
