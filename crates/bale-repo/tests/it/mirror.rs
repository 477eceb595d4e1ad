//! A plain nginx over a published repository tree is a working read-only
//! mirror for `bale fetch` / `bale install`.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};

use bale_db::tokens::Scope;
use bale_repo::client::{self, FetchOptions, PublishOptions};
use bale_repo::RepoError;
use common::{build_package, free_port, wait_for_port, Backend, ProcessGuard, TestServer};

const HELLO: &str = "org.example:hello:2.10";

/// Starts nginx on a free loopback port over `root` (served at `/` and at `/mirror/`).
pub(crate) fn start_nginx(dir: &Path, root: &Path) -> Option<(ProcessGuard, String)> {
    if Command::new("nginx")
        .arg("-v")
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        bale_testkit::require(
            false,
            "nginx is not installed (apt-get install nginx-light), so the static mirror test does not run",
        );
        return None;
    }
    let port = free_port();
    let d = dir.display();
    let root = root.display();
    // One process (no master) so it keeps root's access to the test's private directories.
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    types {{ application/zstd bale; text/plain minisig; application/json json; }}
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /mirror/ {{ alias {root}/; }}
    }}
}}
"#
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = ProcessGuard::new(child);
    wait_for_port(format!("127.0.0.1:{port}").parse().unwrap(), "nginx");
    Some((guard, format!("http://127.0.0.1:{port}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_over_the_published_tree_serves_fetch_and_install() {
    let server = TestServer::start(Backend::Local, |_| {}).await;
    let archive = build_package(&server.work_dir("pkg"), HELLO, "a");
    server.publisher.sign(&archive);
    let token = server.token(Scope::Publish).await;
    let publish = PublishOptions {
        repo: server.url.clone(),
        file: archive.clone(),
        signature: None,
        token: Some(token),
    };
    client::publish(&publish, &|_, _| {}).await.unwrap();

    let nginx_dir = server.work_dir("nginx");
    let repo_dir = server.repo.storage().local_dir().unwrap();
    let Some((_nginx, mirror)) =
        tokio::task::spawn_blocking(move || start_nginx(&nginx_dir, &repo_dir))
            .await
            .unwrap()
    else {
        return;
    };

    for base in [
        mirror.clone(),
        format!("{mirror}/mirror"),
        format!("{mirror}/mirror/"),
    ] {
        let out = server.work_dir(&format!("out-{}", base.len()));
        let options = FetchOptions {
            arch: None,
            repo: base.clone(),
            coordinate: HELLO.parse().unwrap(),
            out_dir: out.clone(),
            trusted_keys_dir: Some(server.options.trusted_keys_dir.clone()),
            allow_unsigned: false,
            token: None,
        };
        let fetched = client::fetch(&options, &|_, _| {})
            .await
            .unwrap_or_else(|e| panic!("fetch from {base}: {e}"));
        assert_eq!(
            std::fs::read(&fetched.archive).unwrap(),
            std::fs::read(&archive).unwrap()
        );
        assert_eq!(
            fetched.signed_by.as_deref(),
            Some(server.publisher.key_id.as_str())
        );
        assert_eq!(fetched.index.coordinate, HELLO);

        let missing = FetchOptions {
            coordinate: "org.example:hello:9.9".parse().unwrap(),
            ..options
        };
        let err = client::fetch(&missing, &|_, _| {}).await.unwrap_err();
        assert!(matches!(err, RepoError::NotFound { .. }), "{err}");
    }

    // The index is there for clients that only read JSON, with the same bytes as from bale serve.
    let from_nginx = reqwest::get(format!(
        "{mirror}/org/example/hello/2.10/hello-2.10-amd64.json"
    ))
    .await
    .unwrap();
    assert_eq!(from_nginx.headers()["content-type"], "application/json");
    let from_nginx = from_nginx.bytes().await.unwrap();
    let from_serve = server
        .get("/org/example/hello/2.10/hello-2.10-amd64.json")
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(from_nginx, from_serve);
}
