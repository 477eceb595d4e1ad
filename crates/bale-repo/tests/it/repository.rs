//! The repository's behaviour, run against local storage and against a real
//! S3 server (moto) with the same assertions.

use crate::common;

use std::sync::Arc;

use bale_db::tokens::Scope;
use bale_repo::client::{self, FetchOptions, PublishOptions, PublishStatus};
use bale_repo::RepoError;
use common::{archive_path, build_package, error_code, Backend, TestServer};

/// Runs one behaviour against each storage backend.
macro_rules! on_each_storage {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn local() {
                super::$body(super::Backend::get(false).await.unwrap()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn s3() {
                if let Some(backend) = super::Backend::get(true).await {
                    super::$body(backend).await;
                }
            }
        }
    };
}

const HELLO: &str = "org.example:hello:2.10";

async fn published_files_are_served_with_types_lengths_etags_and_ranges(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let archive = build_package(&server.work_dir("pkg"), HELLO, "a");
    let signature = server.publisher.sign(&archive);
    let token = server.token(Scope::Publish).await;
    let bytes = std::fs::read(&archive).unwrap();

    let response = server
        .put(
            &archive_path(HELLO),
            bytes.clone(),
            Some(&token),
            Some(&signature),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["signed_by"], server.publisher.key_id.as_str());

    let response = server.get(&archive_path(HELLO)).await;
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/zstd");
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    assert_eq!(headers["accept-ranges"], "bytes");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let client = reqwest::Client::new();
    let url = format!("{}{}", server.url, archive_path(HELLO));
    let head = client.head(&url).send().await.unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(
        head.headers()["content-length"],
        bytes.len().to_string().as_str()
    );
    assert_eq!(head.headers()["etag"], etag.as_str());

    let cached = client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status().as_u16(), 304);

    let part = client
        .get(&url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status().as_u16(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 10-19/{}", bytes.len()).as_str()
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &bytes[10..20]);
    let tail = client
        .get(&url)
        .header("range", "bytes=-5")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tail.bytes().await.unwrap().as_ref(),
        &bytes[bytes.len() - 5..]
    );
    let past = client
        .get(&url)
        .header("range", format!("bytes={}-", bytes.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(past.status().as_u16(), 416);
    // The largest last byte a client can write is clamped to the file's end.
    let huge = client
        .get(&url)
        .header("range", format!("bytes=0-{}", u64::MAX))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status().as_u16(), 206);
    assert_eq!(
        huge.headers()["content-range"],
        format!("bytes 0-{}/{}", bytes.len() - 1, bytes.len()).as_str()
    );
    assert_eq!(huge.bytes().await.unwrap().as_ref(), &bytes[..]);

    let sig = server
        .get(&format!("{}.minisig", archive_path(HELLO)))
        .await;
    assert_eq!(sig.status().as_u16(), 200);
    assert!(sig.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        sig.text().await.unwrap(),
        std::fs::read_to_string(&signature).unwrap()
    );

    let index = server.get("/org/example/hello/2.10/hello-2.10.json").await;
    assert_eq!(index.status().as_u16(), 200);
    assert_eq!(index.headers()["content-type"], "application/json");
    let index: serde_json::Value = index.json().await.unwrap();
    assert_eq!(index["coordinate"], HELLO);
    assert!(index["files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "bin/hello"));

    assert_eq!(
        server
            .get("/org/example/hello/9.9/hello-9.9.bale")
            .await
            .status()
            .as_u16(),
        404
    );
}
on_each_storage!(
    published_files_are_served_with_types_lengths_etags_and_ranges_on,
    published_files_are_served_with_types_lengths_etags_and_ranges
);

async fn same_bytes_again_change_nothing_and_other_bytes_conflict_with_both_digests(
    backend: Backend,
) {
    let server = TestServer::start(backend, |_| {}).await;
    let a = build_package(&server.work_dir("pkg"), HELLO, "a");
    let b = build_package(&server.work_dir("pkg"), HELLO, "b");
    let (sig_a, sig_b) = (server.publisher.sign(&a), server.publisher.sign(&b));
    let token = server.token(Scope::Publish).await;
    let bytes_a = std::fs::read(&a).unwrap();

    assert_eq!(
        server
            .put(
                &archive_path(HELLO),
                bytes_a.clone(),
                Some(&token),
                Some(&sig_a)
            )
            .await
            .status()
            .as_u16(),
        201
    );
    let etag = server.get(&archive_path(HELLO)).await.headers()["etag"].clone();

    let again = server
        .put(
            &archive_path(HELLO),
            bytes_a.clone(),
            Some(&token),
            Some(&sig_a),
        )
        .await;
    assert_eq!(again.status().as_u16(), 200);
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["status"], "unchanged");
    assert_eq!(
        server.get(&archive_path(HELLO)).await.headers()["etag"],
        etag,
        "the stored object was not rewritten"
    );

    let other = server
        .put(
            &archive_path(HELLO),
            std::fs::read(&b).unwrap(),
            Some(&token),
            Some(&sig_b),
        )
        .await;
    assert_eq!(other.status().as_u16(), 409);
    let body: serde_json::Value = other.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    let digest_a = format!("sha256:{}", sha256_hex(&bytes_a));
    let digest_b = format!("sha256:{}", sha256_hex(&std::fs::read(&b).unwrap()));
    assert!(
        message.contains(&digest_a) && message.contains(&digest_b),
        "{message}"
    );
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(
        server
            .get(&archive_path(HELLO))
            .await
            .bytes()
            .await
            .unwrap()
            .as_ref(),
        bytes_a.as_slice()
    );
}
on_each_storage!(
    same_bytes_again_change_nothing_and_other_bytes_conflict_with_both_digests_on,
    same_bytes_again_change_nothing_and_other_bytes_conflict_with_both_digests
);

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn concurrent_publishes_of_two_contents_let_one_win_and_readers_see_nothing_or_all_of_it(
    backend: Backend,
) {
    one_of_eight_concurrent_publishes_wins(TestServer::start(backend, |_| {}).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_with_a_postgresql_database_let_one_win() {
    let Some(url) = bale_testkit::postgres_server() else {
        return;
    };
    let admin = bale_db::Database::connect(&url).await.unwrap();
    let name = bale_testkit::unique_name("bale_repo_test");
    create_database(&admin, &name).await;
    let database_url = bale_testkit::database_url(&url, &name);
    let server = TestServer::start(Backend::Local, |o| o.database_url = database_url).await;
    assert_eq!(server.repo.database().backend(), bale_db::Backend::Postgres);
    one_of_eight_concurrent_publishes_wins(server).await;
}

/// Creates (afresh) a database on the server of `admin`.
async fn create_database(admin: &bale_db::Database, name: &str) {
    use std::ops::DerefMut;
    let mut conn = admin.pool().acquire().await.unwrap();
    let _ = raw_execute(conn.deref_mut(), &format!("DROP DATABASE IF EXISTS {name}")).await;
    raw_execute(conn.deref_mut(), &format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
}

async fn raw_execute(conn: &mut sqlx::AnyConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(conn).await.map(|_| ())
}

async fn one_of_eight_concurrent_publishes_wins(server: TestServer) {
    let server = Arc::new(server);
    let a = build_package(&server.work_dir("pkg"), HELLO, "a");
    let b = build_package(&server.work_dir("pkg"), HELLO, "b");
    let (sig_a, sig_b) = (server.publisher.sign(&a), server.publisher.sign(&b));
    let contents = Arc::new([std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap()]);
    let sigs = Arc::new([sig_a, sig_b]);
    let token = Arc::new(server.token(Scope::Publish).await);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (server, stop) = (server.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = server.get(&archive_path(HELLO)).await;
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap().to_vec();
                seen.push((status, body));
            }
            seen
        }));
    }

    let mut publishes = Vec::new();
    for i in 0..8 {
        let (server, contents, sigs, token) = (
            server.clone(),
            contents.clone(),
            sigs.clone(),
            token.clone(),
        );
        publishes.push(tokio::spawn(async move {
            let which = i % 2;
            let response = server
                .put(
                    &archive_path(HELLO),
                    contents[which].clone(),
                    Some(&token),
                    Some(&sigs[which]),
                )
                .await;
            (which, response.status().as_u16())
        }));
    }
    let mut outcomes = Vec::new();
    for p in publishes {
        outcomes.push(p.await.unwrap());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    let winner = one_winner(&outcomes);
    let stored = server
        .get(&archive_path(HELLO))
        .await
        .bytes()
        .await
        .unwrap()
        .to_vec();
    assert_eq!(stored, contents[winner]);
    for reader in readers {
        for (status, body) in reader.await.unwrap() {
            match status {
                404 => {}
                200 => assert!(
                    body == contents[winner],
                    "a reader saw {} bytes that are not the winner's whole file",
                    body.len()
                ),
                other => panic!("a reader got {other}"),
            }
        }
    }
}
on_each_storage!(
    concurrent_publishes_of_two_contents_let_one_win_and_readers_see_nothing_or_all_of_it_on,
    concurrent_publishes_of_two_contents_let_one_win_and_readers_see_nothing_or_all_of_it
);

async fn the_api_lists_versions_searches_and_serves_metadata(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let token = server.token(Scope::Publish).await;
    for (coordinate, variant) in [
        ("org.example:hello:1.0", "one"),
        (HELLO, "two"),
        ("org.other:hello-web:0.1", "three"),
    ] {
        let archive = build_package(&server.work_dir(variant), coordinate, variant);
        let sig = server.publisher.sign(&archive);
        let response = server
            .put(
                &archive_path(coordinate),
                std::fs::read(&archive).unwrap(),
                Some(&token),
                Some(&sig),
            )
            .await;
        assert_eq!(response.status().as_u16(), 201, "{coordinate}");
    }

    assert_eq!(
        server.get_json("/api/v1/health").await,
        (200, serde_json::json!({"status": "ok"}))
    );

    let (status, body) = server.get_json("/api/v1/packages?q=hello").await;
    assert_eq!(status, 200);
    let names: Vec<_> = body["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["hello", "hello-web"]);
    assert_eq!(
        body["packages"][0]["versions"],
        serde_json::json!(["1.0", "2.10"])
    );

    let (status, body) = server.get_json("/api/v1/packages/org.example/hello").await;
    assert_eq!(status, 200);
    let versions: Vec<_> = body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(versions, ["1.0", "2.10"]);
    assert!(body["versions"][0]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    let (status, body) = server
        .get_json("/api/v1/packages/org.example/hello/2.10")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["coordinate"], HELLO);
    assert_eq!(body["signature"]["status"], "signed");
    assert_eq!(
        body["signature"]["key_id"],
        server.publisher.key_id.as_str()
    );
    assert_eq!(body["index"]["coordinate"], HELLO);
    assert_eq!(
        body["files"]["archive"],
        "/org/example/hello/2.10/hello-2.10-amd64.bale"
    );

    let (status, body) = server.get_json("/api/v1/search?file=/bin/hello").await;
    assert_eq!(status, 200);
    let coords: Vec<_> = body["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["coordinate"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        coords,
        ["org.example:hello:1.0", HELLO, "org.other:hello-web:0.1"]
    );
    assert_eq!(body["packages"][0]["class"], "elf-executable");

    let (status, body) = server.get_json("/api/v1/search?library=libc.so.6").await;
    assert_eq!(status, 200);
    assert_eq!(body["packages"].as_array().unwrap().len(), 3);
    assert_eq!(body["packages"][0]["path"], "bin/hello");

    for (path, status, code) in [
        ("/api/v1/packages/org.example/nothing", 404, "not_found"),
        ("/api/v1/packages/org.example/hello/3.0", 404, "not_found"),
        ("/api/v1/packages/Org/hello", 400, "bad_coordinate"),
        ("/api/v1/search", 400, "bad_query"),
        ("/api/v1/nowhere", 404, "not_found"),
    ] {
        let (got, body) = server.get_json(path).await;
        assert_eq!(
            (got, body["error"]["code"].as_str().unwrap()),
            (status, code),
            "{path}"
        );
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
}
on_each_storage!(
    the_api_lists_versions_searches_and_serves_metadata_on,
    the_api_lists_versions_searches_and_serves_metadata
);

async fn the_client_publishes_and_fetches_with_verification(backend: Backend) {
    let server = TestServer::start(backend, |_| {}).await;
    let archive = build_package(&server.work_dir("pkg"), HELLO, "a");
    server.publisher.sign(&archive);
    let token = server.token(Scope::Publish).await;
    let publish = PublishOptions {
        repo: server.url.clone(),
        file: archive.clone(),
        signature: None,
        token: Some(token),
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |done: u64, total: Option<u64>| seen.lock().unwrap().push((done, total));
    let published = client::publish(&publish, &progress).await.unwrap();
    assert_eq!(published.status, PublishStatus::Published);
    assert_eq!(
        published.signed_by.as_deref(),
        Some(server.publisher.key_id.as_str())
    );
    let size = std::fs::metadata(&archive).unwrap().len();
    assert_eq!(seen.lock().unwrap().last(), Some(&(size, Some(size))));
    assert_eq!(
        client::publish(&publish, &|_, _| {}).await.unwrap().status,
        PublishStatus::Unchanged
    );

    let out = server.work_dir("fetched");
    let fetch = FetchOptions {
        arch: None,
        repo: server.url.clone(),
        coordinate: HELLO.parse().unwrap(),
        out_dir: out.clone(),
        trusted_keys_dir: Some(server.options.trusted_keys_dir.clone()),
        allow_unsigned: false,
        token: None,
    };
    let downloaded = std::sync::Mutex::new(0u64);
    let fetched = client::fetch(&fetch, &|done, _| *downloaded.lock().unwrap() = done)
        .await
        .unwrap();
    assert_eq!(fetched.archive, out.join("hello-2.10-amd64.bale"));
    assert_eq!(
        std::fs::read(&fetched.archive).unwrap(),
        std::fs::read(&archive).unwrap()
    );
    assert!(fetched.signature.as_ref().unwrap().exists());
    assert_eq!(
        fetched.signed_by.as_deref(),
        Some(server.publisher.key_id.as_str())
    );
    assert_eq!(fetched.index.coordinate, HELLO);
    assert_eq!(*downloaded.lock().unwrap(), size);
    assert_eq!(fetched.digest, published.digest);
}
on_each_storage!(
    the_client_publishes_and_fetches_with_verification_on,
    the_client_publishes_and_fetches_with_verification
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_failures_are_clear_and_leave_nothing_behind() {
    let server = TestServer::start(Backend::Local, |o| o.allow_unsigned = true).await;
    let token = server.token(Scope::Publish).await;
    let stranger = common::Publisher::new();
    // Signed by a key the repository trusts but the fetching machine does not.
    let signed = build_package(&server.work_dir("signed"), HELLO, "a");
    server.publisher.sign(&signed);
    client::publish(
        &PublishOptions {
            repo: server.url.clone(),
            file: signed,
            signature: None,
            token: Some(token.clone()),
        },
        &|_, _| {},
    )
    .await
    .unwrap();
    let unsigned = build_package(&server.work_dir("unsigned"), "org.example:plain:1", "b");
    client::publish(
        &PublishOptions {
            repo: server.url.clone(),
            file: unsigned,
            signature: None,
            token: Some(token),
        },
        &|_, _| {},
    )
    .await
    .unwrap();

    let client_keys = server.work_dir("client-keys");
    stranger.trust_in(&client_keys, "stranger");
    let out = server.work_dir("out");
    let options = |coordinate: &str, repo: &str| FetchOptions {
        arch: None,
        repo: repo.to_owned(),
        coordinate: coordinate.parse().unwrap(),
        out_dir: out.clone(),
        trusted_keys_dir: Some(client_keys.clone()),
        allow_unsigned: false,
        token: None,
    };

    let err = client::fetch(&options(HELLO, &server.url), &|_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::BadSignature { .. }), "{err}");
    assert!(err.to_string().contains("does not trust"), "{err}");

    let err = client::fetch(&options("org.example:plain:1", &server.url), &|_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Unsigned { .. }), "{err}");
    let mut allowed = options("org.example:plain:1", &server.url);
    allowed.allow_unsigned = true;
    let fetched = client::fetch(&allowed, &|_, _| {}).await.unwrap();
    assert!(fetched.signature.is_none() && fetched.signed_by.is_none());
    std::fs::remove_file(fetched.archive).unwrap();

    let err = client::fetch(&options("org.example:missing:1", &server.url), &|_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("org.example:missing:1"));

    let closed = format!("http://127.0.0.1:{}", common::free_port());
    let err = client::fetch(&options(HELLO, &closed), &|_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::Unreachable { .. }), "{err}");

    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "nothing is left in the output directory: {left:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_are_required_unless_the_repository_allows_unsigned() {
    let server = TestServer::start(Backend::Local, |_| {}).await;
    let token = server.token(Scope::Publish).await;
    let archive = build_package(&server.work_dir("pkg"), HELLO, "a");
    let bytes = std::fs::read(&archive).unwrap();

    let (status, code, message) = error_code(
        server
            .put(&archive_path(HELLO), bytes.clone(), Some(&token), None)
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (403, "unsigned"), "{message}");

    let stranger = common::Publisher::new();
    let foreign = stranger.sign(&archive);
    let (status, code, message) = error_code(
        server
            .put(
                &archive_path(HELLO),
                bytes.clone(),
                Some(&token),
                Some(&foreign),
            )
            .await,
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (403, "untrusted_signature"),
        "{message}"
    );

    // A signature over other bytes does not verify.
    let other = build_package(&server.work_dir("other"), HELLO, "b");
    let wrong = server.publisher.sign(&other);
    let (status, code, _) = error_code(
        server
            .put(
                &archive_path(HELLO),
                bytes.clone(),
                Some(&token),
                Some(&wrong),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "bad_signature"));
    assert_eq!(
        server.get(&archive_path(HELLO)).await.status().as_u16(),
        404,
        "nothing was stored"
    );

    let open = TestServer::start(Backend::Local, |o| o.allow_unsigned = true).await;
    let token = open.token(Scope::Publish).await;
    assert_eq!(
        open.put(&archive_path(HELLO), bytes.clone(), Some(&token), None)
            .await
            .status()
            .as_u16(),
        201
    );
    let (_, body) = open
        .get_json("/api/v1/packages/org.example/hello/2.10")
        .await;
    assert_eq!(body["signature"]["status"], "unsigned");
    assert_eq!(
        open.get(&format!("{}.minisig", archive_path(HELLO)))
            .await
            .status()
            .as_u16(),
        404
    );

    // A signature can be added later, once, by a trusted key.
    let good = open.publisher.sign(&archive);
    let sig_path = format!("{}.minisig", archive_path(HELLO));
    let put_sig = open
        .put(&sig_path, std::fs::read(&good).unwrap(), Some(&token), None)
        .await;
    assert_eq!(put_sig.status().as_u16(), 201);
    assert_eq!(
        open.put(&sig_path, std::fs::read(&good).unwrap(), Some(&token), None)
            .await
            .status()
            .as_u16(),
        200
    );
    let (_, body) = open
        .get_json("/api/v1/packages/org.example/hello/2.10")
        .await;
    assert_eq!(body["signature"]["key_id"], open.publisher.key_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_the_same_bytes_restores_an_archive_lost_from_storage() {
    let server = TestServer::start(Backend::Local, |_| {}).await;
    let archive = build_package(&server.work_dir("pkg"), HELLO, "a");
    let sig = server.publisher.sign(&archive);
    let token = server.token(Scope::Publish).await;
    let bytes = std::fs::read(&archive).unwrap();
    assert_eq!(
        server
            .put(
                &archive_path(HELLO),
                bytes.clone(),
                Some(&token),
                Some(&sig)
            )
            .await
            .status()
            .as_u16(),
        201
    );

    let stored = server
        .repo
        .storage()
        .local_dir()
        .unwrap()
        .join("org/example/hello/2.10/hello-2.10-amd64.bale");
    std::fs::remove_file(&stored).unwrap();
    assert_eq!(
        server.get(&archive_path(HELLO)).await.status().as_u16(),
        404
    );

    assert_eq!(
        server
            .put(
                &archive_path(HELLO),
                bytes.clone(),
                Some(&token),
                Some(&sig)
            )
            .await
            .status()
            .as_u16(),
        200
    );
    assert_eq!(std::fs::read(&stored).unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_signatures_for_one_package_let_one_win_and_the_others_conflict() {
    let open = TestServer::start(Backend::Local, |o| o.allow_unsigned = true).await;
    let token = open.token(Scope::Publish).await;
    let archive = build_package(&open.work_dir("pkg"), HELLO, "a");
    let bytes = std::fs::read(&archive).unwrap();
    let put = open
        .put(&archive_path(HELLO), bytes, Some(&token), None)
        .await;
    assert_eq!(put.status().as_u16(), 201);
    // Eight valid signatures by the trusted key that differ in their trusted comment.
    let signatures: Vec<String> = (0..8)
        .map(|i| {
            let data = std::fs::File::open(&archive).unwrap();
            bale_sign::sign(&open.publisher.secret, data, &format!("signature {i}"))
                .unwrap()
                .to_file_string()
        })
        .collect();
    let sig_path = format!("{}.minisig", archive_path(HELLO));
    let open = std::sync::Arc::new(open);
    let puts = signatures.iter().map(|text| {
        let (open, token, sig_path, text) =
            (open.clone(), token.clone(), sig_path.clone(), text.clone());
        tokio::spawn(async move {
            let status = open
                .put(&sig_path, text.clone().into_bytes(), Some(&token), None)
                .await
                .status()
                .as_u16();
            (status, text)
        })
    });
    let answers: Vec<(u16, String)> = futures::future::join_all(puts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let winners: Vec<&String> = answers
        .iter()
        .filter(|(status, _)| *status == 201)
        .map(|(_, text)| text)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(
        answers
            .iter()
            .all(|(status, _)| *status == 201 || *status == 409),
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    let served = open.get(&sig_path).await.text().await.unwrap();
    assert_eq!(
        &served, winners[0],
        "the stored signature is not the winner's"
    );
    // The winner's bytes again are unchanged; another signature still conflicts.
    let again = open
        .put(
            &sig_path,
            winners[0].clone().into_bytes(),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(again.status().as_u16(), 200);
}

async fn concurrent_uploads_of_two_sboms_let_one_win(backend: Backend) {
    let server = Arc::new(TestServer::start(backend, |_| {}).await);
    let archive = build_package(&server.work_dir("pkg"), HELLO, "a");
    let signature = server.publisher.sign(&archive);
    let token = Arc::new(server.token(Scope::Publish).await);
    let response = server
        .put(
            &archive_path(HELLO),
            std::fs::read(&archive).unwrap(),
            Some(&token),
            Some(&signature),
        )
        .await;
    assert_eq!(response.status().as_u16(), 201);
    let sbom_path = format!("{}.spdx.json", archive_path(HELLO));
    let contents = Arc::new([
        br#"{"spdxVersion": "SPDX-2.3", "name": "a"}"#.to_vec(),
        br#"{"spdxVersion": "SPDX-2.3", "name": "b"}"#.to_vec(),
    ]);
    let mut uploads = Vec::new();
    for i in 0..8 {
        let (server, contents, token, path) = (
            server.clone(),
            contents.clone(),
            token.clone(),
            sbom_path.clone(),
        );
        uploads.push(tokio::spawn(async move {
            let which = i % 2;
            let response = server
                .put(&path, contents[which].clone(), Some(&token), None)
                .await;
            (which, response.status().as_u16())
        }));
    }
    let mut outcomes = Vec::new();
    for upload in uploads {
        outcomes.push(upload.await.unwrap());
    }
    let winner = one_winner(&outcomes);
    let stored = server.get(&sbom_path).await.bytes().await.unwrap().to_vec();
    assert_eq!(stored, contents[winner]);
}
on_each_storage!(
    concurrent_uploads_of_two_sboms_let_one_win_on,
    concurrent_uploads_of_two_sboms_let_one_win
);

/// The content whose upload created the file, once each content's uploads
/// are checked: exactly one 201, its other uploads 200 or 201, the other
/// content's 409.
fn one_winner(outcomes: &[(usize, u16)]) -> usize {
    let created: Vec<_> = outcomes.iter().filter(|(_, s)| *s == 201).collect();
    assert_eq!(created.len(), 1, "exactly one upload creates: {outcomes:?}");
    let winner = created[0].0;
    for (which, status) in outcomes {
        let expected: &[u16] = if *which == winner {
            &[200, 201]
        } else {
            &[409]
        };
        assert!(
            expected.contains(status),
            "content {which} got {status}: {outcomes:?}"
        );
    }
    winner
}
