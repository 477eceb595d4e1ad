//! `bale watch --once` against a real bare repository and a local receiver
//! standing in for the service's `POST /api/v1/builds`.

use crate::common;

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Json;
use bale_testkit::git;
use common::Scratch;

/// A bare repository with branches `hello-1.2.0` and `feature-x` pushed to it.
fn bare_repo(scratch: &Scratch) -> String {
    let bare = scratch.path().join("hello.git");
    let work = scratch.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(
        scratch.path(),
        &["init", "-q", "--bare", bare.to_str().unwrap()],
    );
    git(&work, &["init", "-q", "-b", "hello-1.2.0"]);
    std::fs::write(
        work.join("bale.toml"),
        "[package]\nname = \"hello\"\nversion = \"1.2.0\"\n",
    )
    .unwrap();
    git(&work, &["add", "bale.toml"]);
    git(&work, &["commit", "-q", "-m", "hello 1.2.0"]);
    git(&work, &["branch", "feature-x"]);
    git(
        &work,
        &[
            "push",
            "-q",
            bare.to_str().unwrap(),
            "hello-1.2.0",
            "feature-x",
        ],
    );
    bare.to_str().unwrap().to_owned()
}

/// What the receiver saw: each request's Authorization header and JSON body.
type Seen = Arc<Mutex<Vec<(Option<String>, serde_json::Value)>>>;

/// A stand-in for `POST /api/v1/builds` answering `status` with build id 7.
async fn receiver(status: StatusCode) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/api/v1/builds",
        post(move |headers: HeaderMap, Json(body): Json<serde_json::Value>| {
            let record = record.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
                record.lock().unwrap().push((auth, body.clone()));
                let answer = if status.is_success() {
                    // A whole build record, as the service answers (bale_api::Build).
                    serde_json::json!({
                        "id": 7, "status": "queued", "source": body["source"], "ref": body["ref"],
                        "fresh": false, "stack_packages": [], "tries": 0, "cancel_requested": false,
                        "created_at": 0, "log": "/api/v1/builds/7/log", "steps": [],
                    })
                } else {
                    serde_json::json!({"error": {"code": "unauthorized", "message": "a build token is needed"}})
                };
                (status, Json(answer))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

/// Runs `bale watch REMOTE --once --server SERVER` off the async runtime.
async fn watch_once(
    scratch: &Scratch,
    remote: &str,
    server: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = scratch.bale();
    cmd.args(["watch", remote, "--once", "--server", server])
        .args(extra)
        .env("BALE_TOKEN", "t0ken");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_once_submits_each_version_branch_once_and_reports_other_branches_as_refused() {
    let scratch = Scratch::new();
    let remote = bare_repo(&scratch);
    let (server, seen) = receiver(StatusCode::CREATED).await;

    let first = watch_once(&scratch, &remote, &server, &[]).await;
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(
        stderr.contains("Queued build 7: `hello-1.2.0` (1.2.0)"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("Refused `refs/heads/feature-x`: branch `feature-x` does not name a version"),
        "{stderr}"
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].0.as_deref(), Some("Bearer t0ken"));
        assert_eq!(
            seen[0].1,
            serde_json::json!({"source": remote, "ref": "hello-1.2.0", "fresh": false})
        );
    }

    let second = watch_once(&scratch, &remote, &server, &["--json"]).await;
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(
        report,
        serde_json::json!({"queued": [], "refused": [], "failed": []})
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "nothing new was pushed, so nothing is submitted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_existing_builds_only_what_is_pushed_after_the_first_poll() {
    let scratch = Scratch::new();
    let remote = bare_repo(&scratch);
    let (server, seen) = receiver(StatusCode::CREATED).await;

    let first = watch_once(&scratch, &remote, &server, &["--skip-existing", "--json"]).await;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["skipped"], serde_json::json!(["hello-1.2.0"]));
    assert!(
        seen.lock().unwrap().is_empty(),
        "an existing ref was submitted"
    );

    // A version pushed afterwards is built, the skipped one still is not.
    let work = scratch.path().join("work");
    git(&work, &["checkout", "-q", "-b", "hello-1.3.0"]);
    git(&work, &["push", "-q", &remote, "hello-1.3.0"]);
    let second = watch_once(&scratch, &remote, &server, &["--skip-existing"]).await;
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1["ref"], "hello-1.3.0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_the_service_refused_is_submitted_again_at_the_next_poll() {
    let scratch = Scratch::new();
    let remote = bare_repo(&scratch);
    let (refusing, _) = receiver(StatusCode::UNAUTHORIZED).await;
    let failed = watch_once(&scratch, &remote, &refusing, &[]).await;
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("a build token is needed") && stderr.contains("BALE_TOKEN"),
        "{stderr}"
    );

    let (accepting, seen) = receiver(StatusCode::CREATED).await;
    let retried = watch_once(&scratch, &remote, &accepting, &[]).await;
    assert!(
        retried.status.success(),
        "{}",
        String::from_utf8_lossy(&retried.stderr)
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1["ref"], "hello-1.2.0");
}

#[test]
fn watch_refuses_an_interval_that_is_not_a_duration() {
    let scratch = Scratch::new();
    let out = scratch
        .bale()
        .args(["watch", "/nowhere.git", "--interval", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("soon"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
