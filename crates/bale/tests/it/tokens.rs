//! Tokens through the command line: scopes, expiry, list and revoke, and a
//! private server (`[server] private = true`) that answers reads only to a token.

use crate::common;

use common::{free_port, Scratch, MINIMAL};
use predicates::prelude::*;

/// The HTTP status of `GET url`, with a bearer token when given.
fn status(url: &str, token: Option<&str>) -> u16 {
    common::get_with_token(url, token).0
}

fn create_token(s: &Scratch, args: &[&str]) -> (String, i64) {
    let out = s
        .bale()
        .args(["token", "create", "--json"])
        .args(args)
        .assert()
        .success()
        .get_output()
        .clone();
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    (
        created["token"].as_str().expect("token").to_owned(),
        created["id"].as_i64().expect("id"),
    )
}

fn packed(s: &Scratch) {
    s.write("root/share/hello.txt", "hello\n");
    s.write("bale.toml", MINIMAL);
    s.bale().args(["key", "generate"]).assert().success();
    s.bale()
        .args([
            "pack",
            "root",
            "--manifest",
            "bale.toml",
            "--key",
            "default",
        ])
        .assert()
        .success();
}

#[test]
fn a_private_server_answers_reads_only_to_a_token_of_any_scope() {
    let s = Scratch::new();
    packed(&s);
    s.write("home/config.toml", "[server]\nprivate = true\n");
    let (publish, _) = create_token(&s, &["--scope", "publish"]);
    let (read, read_id) = create_token(&s, &["--scope", "read"]);
    let port = free_port();
    let _server = s.serve().port(port).args(["--workers", "0"]).start();
    let repo = format!("http://127.0.0.1:{port}");

    s.bale()
        .env("BALE_TOKEN", &read)
        .args(["publish", "tiny-1.0.0-all.bale", "--repo", &repo])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("read scope"));
    s.bale()
        .env("BALE_TOKEN", &publish)
        .args(["publish", "tiny-1.0.0-all.bale", "--repo", &repo])
        .assert()
        .success();

    let tree = format!("{repo}/org/example/tiny/1.0.0/tiny-1.0.0-all.bale");
    for url in [
        format!("{repo}/api/v1/packages"),
        format!("{repo}/api/v1/packages/org.example/tiny"),
        format!("{repo}/api/v1/search?file=share/hello.txt"),
        format!("{repo}/api/v1/builds"),
        format!("{repo}/api/v1/stacks"),
        format!("{repo}/metrics"),
        format!("{repo}/"),
        tree.clone(),
    ] {
        assert_eq!(status(&url, None), 401, "{url} without a token");
        assert_eq!(status(&url, Some("bale_not_a_token")), 401, "{url}");
        assert_eq!(status(&url, Some(&read)), 200, "{url} with a read token");
        assert_eq!(
            status(&url, Some(&publish)),
            200,
            "{url} with a publish token"
        );
    }
    // Whether it is up, and what the API is, stay open.
    assert_eq!(status(&format!("{repo}/api/v1/health"), None), 200);
    assert_eq!(status(&format!("{repo}/api/v1/openapi.json"), None), 200);

    s.bale()
        .args([
            "fetch",
            "org.example:tiny:1.0.0",
            "--repo",
            &repo,
            "-o",
            "no",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("token"));
    s.bale()
        .env("BALE_TOKEN", &read)
        .args([
            "fetch",
            "org.example:tiny:1.0.0",
            "--repo",
            &repo,
            "-o",
            "yes",
        ])
        .assert()
        .success();
    s.bale()
        .env("BALE_TOKEN", &read)
        .args(["builds", "--server", &repo])
        .assert()
        .success();

    s.bale()
        .args(["token", "revoke", &read_id.to_string()])
        .assert()
        .success()
        .stderr(predicate::str::contains("Revoked"));
    s.bale()
        .env("BALE_TOKEN", &read)
        .args([
            "fetch",
            "org.example:tiny:1.0.0",
            "--repo",
            &repo,
            "-o",
            "no",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("revoked"));
    assert_eq!(status(&tree, Some(&read)), 401);
}

#[test]
fn an_open_server_answers_reads_without_a_token() {
    let s = Scratch::new();
    let port = free_port();
    let _server = s.serve().port(port).args(["--workers", "0"]).start();
    let repo = format!("http://127.0.0.1:{port}");
    assert_eq!(status(&format!("{repo}/api/v1/packages"), None), 200);
    assert_eq!(status(&format!("{repo}/api/v1/builds"), None), 200);
}

#[test]
fn an_expired_token_is_refused_saying_it_expired() {
    let s = Scratch::new();
    packed(&s);
    let (token, _) = create_token(&s, &["--scope", "publish", "--expires", "1s"]);
    let port = free_port();
    let _server = s.serve().port(port).args(["--workers", "0"]).start();
    let repo = format!("http://127.0.0.1:{port}");
    // Past its lifetime, whatever the clock's granularity.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    s.bale()
        .env("BALE_TOKEN", &token)
        .args(["publish", "tiny-1.0.0-all.bale", "--repo", &repo])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("expired"));
}

#[test]
fn token_list_shows_scope_and_times_but_never_a_token() {
    let s = Scratch::new();
    let (forever, _) = create_token(&s, &["--scope", "admin"]);
    let (expiring, expiring_id) = create_token(&s, &["--scope", "read", "--expires", "90d"]);
    let out = s
        .bale()
        .args(["token", "list", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains(&forever[5..]) && !text.contains(&expiring[5..]));
    let listed: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let listed = listed.as_array().expect("a list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["scope"], "admin");
    assert!(listed[0]["expires_at"].is_null());
    assert_eq!(listed[1]["id"], expiring_id);
    assert_eq!(listed[1]["state"], "active");
    let ninety_days = listed[1]["expires_at"].as_i64().expect("expiry")
        - listed[1]["created_at"].as_i64().expect("created");
    assert_eq!(ninety_days, 90 * 86_400);

    let human = s.bale().args(["token", "list"]).assert().success();
    let human = String::from_utf8_lossy(&human.get_output().stdout).into_owned();
    assert!(human.contains("read") && human.contains("never"), "{human}");
    assert!(!human.contains(&forever[5..]));

    s.bale()
        .args(["token", "revoke", "4242"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bale token list"));
    s.bale()
        .args(["token", "create", "--scope", "write"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("read, build, publish or admin"));
}
