//! The build service's ways in and out besides `bale submit`: a signed git
//! push of a version branch against a real bare repository builds that
//! version, and a failed build sends its notice to a real local webhook.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use std::process::{Command, Stdio};
use std::time::Duration;

use bale_testkit::{git, wait_until, Served};
use common::{get_json, Scratch};
use serde_json::Value;

/// `bale serve` with one local worker and the default key; returns it and its URL.
fn serve(s: &Scratch, extra: &[&str]) -> (Served, String) {
    s.bale().args(["key", "generate"]).assert().success();
    let server = s
        .serve()
        // The pushed repositories are bare repositories on this machine.
        .args(["--workers", "1", "--allow-local-sources"])
        .args(extra)
        .log(s.path().join("serve.log"))
        .start();
    let url = server.url.clone();
    (server, url)
}

fn hmac_sha256(secret: &str, body: &str) -> String {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret, "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let hex = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    format!("sha256={hex}")
}

fn post_hook(url: &str, signature: &str, body: &str) -> (u16, Value) {
    let out = Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            "-X",
            "POST",
            &format!("{url}/api/v1/hooks/git"),
        ])
        .args([
            "-H",
            "X-GitHub-Event: push",
            "-H",
            &format!("X-Hub-Signature-256: {signature}"),
        ])
        .args([
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (json, code) = text.rsplit_once('\n').unwrap();
    (
        code.parse().unwrap(),
        serde_json::from_str(json).unwrap_or(Value::Null),
    )
}

#[test]
fn a_signed_push_of_a_version_branch_builds_and_publishes_that_version() {
    let s = Scratch::new();
    let work = s.path().join("hello");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    s.write(
        "hello/bale.toml",
        "[package]\ngroup = \"org.example\"\nname = \"hello\"\nversion = \"0.0.0\"\n\n[stack]\nname = \"host\"\n\n[build]\nmain = [\"mkdir -p $BALE_PREFIX/share\", \"echo hi > $BALE_PREFIX/share/hello\"]\n",
    );
    git(&work, &["add", "bale.toml"]);
    git(&work, &["commit", "-qm", "hello"]);
    let commit = git(&work, &["rev-parse", "HEAD"]);
    let bare = s.path().join("hello.git");
    git(s.path(), &["clone", "-q", "--bare", "hello", "hello.git"]);
    git(
        &work,
        &[
            "push",
            "-q",
            bare.to_str().unwrap(),
            "HEAD:refs/heads/hello-1.2.0",
            "HEAD:refs/heads/feature",
        ],
    );

    let (_server, url) = serve(&s, &["--hook-secret", "topsecret"]);
    let push = |branch: &str| {
        serde_json::json!({ "ref": format!("refs/heads/{branch}"), "after": commit, "repository": { "clone_url": bare } })
            .to_string()
    };
    let body = push("feature");
    let (status, refused) = post_hook(&url, &hmac_sha256("topsecret", &body), &body);
    assert_eq!(
        status, 422,
        "a branch that names no version is refused: {refused}"
    );
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap()
        .contains("feature"));
    let body = push("hello-1.2.0");
    let (status, _) = post_hook(&url, &hmac_sha256("wrong", &body), &body);
    assert_eq!(status, 401);
    assert_eq!(
        get_json(&format!("{url}/api/v1/builds")).unwrap()["builds"],
        serde_json::json!([]),
        "nothing queued"
    );

    let (status, queued) = post_hook(&url, &hmac_sha256("topsecret", &body), &body);
    assert_eq!(status, 201, "{queued}");
    let id = queued["id"].as_i64().unwrap();
    let build = wait_until(Duration::from_secs(60), "the triggered build", || {
        let build = get_json(&format!("{url}/api/v1/builds/{id}"))?;
        build["status"]
            .as_str()
            .is_some_and(|s| s != "queued" && s != "running")
            .then_some(build)
    });
    assert_eq!(build["status"], "succeeded", "{build}");
    assert_eq!(
        build["coordinate"], "org.example:hello:1.2.0",
        "the branch's version is built"
    );
    assert_eq!(build["commit"], commit);
    assert!(get_json(&format!("{url}/api/v1/packages/org.example/hello/1.2.0")).is_some());
}

/// A webhook receiver on 127.0.0.1 that hands over the body of the first POST.
pub(crate) fn receiver() -> (String, std::sync::mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if let Ok(value) = serde_json::from_slice(&body) {
                let _ = tx.send(value);
            }
        }
    });
    (url, rx)
}

#[test]
fn a_failed_build_sends_its_notice_with_the_reason_and_the_end_of_its_log() {
    let s = Scratch::new();
    let (hook, notices) = receiver();
    s.write(
        "home/config.toml",
        &format!("[notice]\nwebhook = \"{hook}\"\n"),
    );
    s.write(
        "broken/bale.toml",
        "[package]\ngroup = \"org.example\"\nname = \"broken\"\nversion = \"1.0.0\"\nmaintainer = \"Jane <jane@example.org>\"\n\n[stack]\nname = \"host\"\n\n[build]\nmain = [\"echo the last words >&2; exit 3\"]\n",
    );
    let (_server, url) = serve(&s, &[]);
    let token = s
        .bale()
        .args(["token", "create", "--scope", "build"])
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    s.bale()
        .args(["submit", "broken", "--wait"])
        .env("BALE_REPO", &url)
        .env("BALE_TOKEN", &token)
        .assert()
        .code(1);
    let notice = notices
        .recv_timeout(Duration::from_secs(30))
        .expect("a notice");
    assert_eq!(notice["coordinate"], "org.example:broken:1.0.0");
    assert_eq!(notice["status"], "failed");
    assert_eq!(notice["maintainer"], "Jane <jane@example.org>");
    assert!(
        notice["reason"].as_str().unwrap().contains("exited with 3"),
        "{notice}"
    );
    let tail: Vec<&str> = notice["log_tail"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tail.iter().any(|l| l.contains("the last words")),
        "{tail:?}"
    );
    assert!(notice["link"].as_str().unwrap().starts_with(&url));
}
