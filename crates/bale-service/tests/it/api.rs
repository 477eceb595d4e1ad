//! The service's HTTP API without workers: tokens, JSON errors, the build
//! records, cancel of a queued build, the OpenAPI document against the
//! router, metrics, and the git webhook.

use bale_db::tokens::{self, Scope};
use bale_home::Home;
use bale_repo::ServeOptions;
use bale_service::{bind, ServiceOptions, WorkerOptions};
use serde_json::{json, Value};

struct Server {
    url: String,
    db: bale_db::Database,
    _home: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

const HOOK_SECRET: &str = "s3cret";

/// A service that builds directories of this machine, as most tests submit.
async fn start() -> Server {
    start_with(true, None).await
}

async fn start_with(
    allow_local_sources: bool,
    apps: Option<std::sync::Arc<dyn bale_service::Apps>>,
) -> Server {
    let home = tempfile::tempdir().unwrap();
    let bale_home = Home::new(home.path());
    let mut serve = ServeOptions::for_home(&bale_home);
    serve.listen = "127.0.0.1:0".parse().unwrap();
    let mut worker = WorkerOptions::new("test", "/nonexistent/bale".into(), bale_home.clone());
    worker.allow_local_sources = allow_local_sources;
    let options = ServiceOptions {
        serve,
        home: bale_home,
        workers: 0,
        worker,
        hook_secret: Some(HOOK_SECRET.into()),
        apps,
    };
    let bound = bind(options).await.unwrap();
    let url = format!("http://{}", bound.local_addr().unwrap());
    let db = bound.service().repository().database().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(bound.run_until(async move {
        let _ = rx.await;
    }));
    Server {
        url,
        db,
        _home: home,
        _stop: tx,
    }
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn write_calls_without_the_right_token_are_refused_and_queue_nothing() {
    let s = start().await;
    let publish = tokens::create(&s.db, Scope::Publish).await.unwrap();
    let build = tokens::create(&s.db, Scope::Build).await.unwrap();
    let body = json!({ "source": "/src/app" });
    let response = client()
        .post(format!("{}/api/v1/builds", s.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let (status, error) = json_of(response).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("bale token create --scope build"));
    let (status, _) = json_of(
        client()
            .post(format!("{}/api/v1/builds", s.url))
            .bearer_auth("bale_unknown")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, error) = json_of(
        client()
            .post(format!("{}/api/v1/builds", s.url))
            .bearer_auth(&publish)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = json_of(
        client()
            .post(format!("{}/api/v1/builds/1/cancel", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    for verb in ["create", "start", "stop", "sanitize"] {
        let (status, _) = json_of(
            client()
                .post(format!("{}/api/v1/stacks/host/{verb}", s.url))
                .bearer_auth(&build)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 403, "stacks need the admin scope ({verb})");
    }
    let (_, list) = json_of(
        client()
            .get(format!("{}/api/v1/builds", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["builds"], json!([]), "nothing was queued");
}

#[tokio::test]
async fn a_submitted_build_is_queued_listed_shown_and_canceled() {
    let s = start().await;
    let token = tokens::create(&s.db, Scope::Build).await.unwrap();
    let body = json!({ "source": "/src/app", "ref": null, "fresh": true });
    let (status, build) = json_of(
        client()
            .post(format!("{}/api/v1/builds", s.url))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{build}");
    assert_eq!(build["status"], "queued");
    assert_eq!(build["fresh"], true);
    let id = build["id"].as_i64().unwrap();

    let (_, list) = json_of(
        client()
            .get(format!("{}/api/v1/builds?status=queued", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["builds"][0]["id"], id);
    let (_, none) = json_of(
        client()
            .get(format!("{}/api/v1/builds?status=failed", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(none["builds"], json!([]));
    let (status, error) = json_of(
        client()
            .get(format!("{}/api/v1/builds?status=done", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("bad_status"))
    );

    let (status, one) = json_of(
        client()
            .get(format!("{}/api/v1/builds/{id}", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one["source"], "/src/app");
    assert_eq!(one["steps"], json!([]));
    let (status, error) = json_of(
        client()
            .get(format!("{}/api/v1/builds/999", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let cancel = format!("{}/api/v1/builds/{id}/cancel", s.url);
    let (status, canceled) = json_of(
        client()
            .post(&cancel)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, canceled["status"].as_str()),
        (200, Some("canceled"))
    );
    let (status, error) = json_of(
        client()
            .post(&cancel)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (409, Some("already_finished"))
    );
    let (_, one) = json_of(
        client()
            .get(format!("{}/api/v1/builds/{id}", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(one["status"], "canceled");
    let log = client()
        .get(format!("{}/api/v1/builds/{id}/log", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(log.status(), 200);
    assert!(log.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
}

#[tokio::test]
async fn bad_submissions_get_json_errors_that_say_what_is_expected() {
    let s = start().await;
    let token = tokens::create(&s.db, Scope::Build).await.unwrap();
    for (body, code) in [
        ("not json", "bad_request"),
        (r#"{"source": ""}"#, "bad_source"),
        (r#"{"source": "relative/dir"}"#, "bad_source"),
        (r#"{"source": "/src", "ref": "--upload-pack=x"}"#, "bad_ref"),
        (
            r#"{"source": "https://git.example.org/a.git", "ref": "--pathspec-from-file=/etc/shadow"}"#,
            "bad_ref",
        ),
        (r#"{"source": "/src", "ref": "main~1"}"#, "bad_ref"),
        (r#"{"source": "--upload-pack=id"}"#, "bad_source"),
        (r#"{"source": "ext::sh -c id"}"#, "bad_source"),
        (r#"{"source": "ftp://example.org/a.git"}"#, "bad_source"),
        (r#"{"source": "/src", "extra": 1}"#, "bad_request"),
    ] {
        let response = client()
            .post(format!("{}/api/v1/builds", s.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, error) = json_of(response).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some(code)),
            "{body}: {error}"
        );
    }
}

/// A request path for a documented path template.
fn concrete(path: &str) -> String {
    path.replace("{group}", "org.example")
        .replace("{group_path}", "org/example")
        .replace("{name}", "host")
        .replace("{version}", "1.0.0")
        .replace("{file}", "host-1.0.0.bale")
        .replace("{id}", "1")
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let s = start().await;
    let mut served = bale_service::route_table();
    served.extend(
        bale_service::openapi::REPOSITORY_ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string())),
    );
    served.sort();
    let documented = bale_service::openapi::documented_routes();
    assert_eq!(documented, served, "openapi.json and the router differ");

    let (status, doc) = json_of(
        client()
            .get(format!("{}/api/v1/openapi.json", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    // Every documented operation reaches a handler: never "no such route" nor 405.
    for (method, path) in documented {
        let url = format!("{}{}", s.url, concrete(&path));
        let request = client().request(method.parse().unwrap(), &url);
        let request = if method == "POST" || method == "PUT" {
            request.body("{}")
        } else {
            request
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_ne!(status, 405, "{method} {path}");
        assert!(
            !text.contains("is not an API route"),
            "{method} {path}: {text}"
        );
    }
}

#[tokio::test]
async fn metrics_count_the_queue_builds_by_status_and_requests() {
    let s = start().await;
    let token = tokens::create(&s.db, Scope::Build).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (_, build) = json_of(
            client()
                .post(format!("{}/api/v1/builds", s.url))
                .bearer_auth(&token)
                .json(&json!({"source": "/src"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        ids.push(build["id"].as_i64().unwrap());
    }
    client()
        .post(format!("{}/api/v1/builds/{}/cancel", s.url, ids[0]))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let response = client()
        .get(format!("{}/metrics", s.url))
        .send()
        .await
        .unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(text.contains("\nbale_queue_length 1\n"), "{text}");
    assert!(
        text.contains("bale_builds{status=\"canceled\"} 1"),
        "{text}"
    );
    assert!(text.contains("bale_builds{status=\"queued\"} 1"), "{text}");
    assert!(
        text.contains("bale_builds{status=\"succeeded\"} 0"),
        "{text}"
    );
    assert!(text.contains("bale_build_duration_seconds"), "{text}");
    assert!(
        text.contains("bale_http_requests_total{method=\"POST\",status=\"201\"} 2"),
        "{text}"
    );
}

#[tokio::test]
async fn a_signed_push_of_a_version_branch_queues_a_build_and_a_bad_signature_queues_nothing() {
    let s = start().await;
    let body = json!({
        "ref": "refs/heads/hello-1.2.0",
        "after": "0123456789abcdef0123456789abcdef01234567",
        "repository": { "clone_url": "https://git.example.org/hello.git" },
    })
    .to_string();
    let hook = format!("{}/api/v1/hooks/git", s.url);
    let forged = client()
        .post(&hook)
        .header("x-github-event", "push")
        .header(
            "x-hub-signature-256",
            bale_trigger::sign(b"wrong", body.as_bytes()),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let (_, list) = json_of(
        client()
            .get(format!("{}/api/v1/builds", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["builds"], json!([]));

    let (status, build) = json_of(
        client()
            .post(&hook)
            .header("x-github-event", "push")
            .header(
                "x-hub-signature-256",
                bale_trigger::sign(HOOK_SECRET.as_bytes(), body.as_bytes()),
            )
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{build}");
    assert_eq!(build["version"], "1.2.0");
    assert_eq!(build["ref"], "refs/heads/hello-1.2.0");
    assert_eq!(build["source"], "https://git.example.org/hello.git");
}

#[tokio::test]
async fn a_body_over_the_framework_s_limit_gets_the_json_error_envelope() {
    let s = start().await;
    let token = tokens::create(&s.db, Scope::Build).await.unwrap();
    let body = format!(
        "{{\"source\": \"/src/app\", \"pad\": \"{}\"}}",
        "x".repeat(3 << 20)
    );
    let response = client()
        .post(format!("{}/api/v1/builds", s.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{:?}",
        response.headers()
    );
    let (status, error) = json_of(response).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (413, Some("payload_too_large")),
        "{error}"
    );
}

#[tokio::test]
async fn local_sources_are_refused_by_submit_and_webhooks_unless_the_server_allows_them() {
    let s = start_with(false, None).await;
    let token = tokens::create(&s.db, Scope::Build).await.unwrap();
    for source in ["/src/app", "file:///srv/git/app.git", "/srv/git/app.git"] {
        let (status, error) = json_of(
            client()
                .post(format!("{}/api/v1/builds", s.url))
                .bearer_auth(&token)
                .json(&json!({ "source": source }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some("local_source")),
            "{source}: {error}"
        );
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("--allow-local-sources"),
            "{error}"
        );
    }
    let hook = format!("{}/api/v1/hooks/git", s.url);
    let push = |clone_url: &str| {
        let body = json!({
            "ref": "refs/heads/hello-1.2.0",
            "after": "0123456789abcdef0123456789abcdef01234567",
            "repository": { "clone_url": clone_url },
        })
        .to_string();
        client()
            .post(&hook)
            .header("x-github-event", "push")
            .header(
                "x-hub-signature-256",
                bale_trigger::sign(HOOK_SECRET.as_bytes(), body.as_bytes()),
            )
            .body(body)
            .send()
    };
    for clone_url in ["/root/.local/share/bale", "file:///srv/git/hello.git"] {
        let (status, error) = json_of(push(clone_url).await.unwrap()).await;
        assert_eq!(status, 400, "{clone_url}: {error}");
        assert_eq!(error["error"]["code"], "local_source", "{error}");
    }
    let (_, list) = json_of(
        client()
            .get(format!("{}/api/v1/builds", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["builds"], json!([]), "a refused source was queued");
    let (status, build) = json_of(push("https://git.example.org/hello.git").await.unwrap()).await;
    assert_eq!(status, 201, "{build}");
}

#[tokio::test]
async fn stacks_are_listed_and_kept_warm_or_stopped_with_an_admin_token() {
    let s = start().await;
    let admin = tokens::create(&s.db, Scope::Admin).await.unwrap();
    let (status, list) = json_of(
        client()
            .get(format!("{}/api/v1/stacks", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let host = list["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["name"] == "host")
        .cloned()
        .expect("the host stack");
    assert_eq!(host["state"], "created");
    let (status, started) = json_of(
        client()
            .post(format!("{}/api/v1/stacks/host/start", s.url))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, started["state"].as_str()),
        (200, Some("warm")),
        "{started}"
    );
    let (_, list) = json_of(
        client()
            .get(format!("{}/api/v1/stacks", s.url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let host = list["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["name"] == "host")
        .cloned()
        .unwrap();
    assert_eq!(host["state"], "warm");
    let (status, _) = json_of(
        client()
            .post(format!("{}/api/v1/stacks/host/stop", s.url))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, error) = json_of(
        client()
            .post(format!("{}/api/v1/stacks/no-such-stack/start", s.url))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{error}"
    );
}

/// Apps as the caller of the service lists them.
#[derive(Debug)]
struct TwoApps;

impl bale_service::Apps for TwoApps {
    fn list(&self) -> Result<Vec<bale_service::AppRow>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(vec![
            bale_service::AppRow {
                name: "shop".into(),
                coordinate: Some("org.example:shop:1.2.0".into()),
                services: vec![("web".into(), "running".into())],
            },
            bale_service::AppRow {
                name: "blog".into(),
                coordinate: None,
                services: Vec::new(),
            },
        ])
    }
}

#[tokio::test]
async fn the_dashboard_lists_the_apps_its_caller_provides_and_none_without_a_provider() {
    let s = start_with(true, Some(std::sync::Arc::new(TwoApps))).await;
    let page = client().get(format!("{}/", s.url)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    for expected in ["shop", "org.example:shop:1.2.0", "web: running", "blog"] {
        assert!(html.contains(expected), "{expected} missing from:\n{html}");
    }
    assert!(!html.contains("No apps deployed."));

    let none = start().await;
    let html = client()
        .get(format!("{}/", none.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("No apps deployed."), "{html}");
}
