//! Webhook deliveries as GitHub and Gitea send them: signed push events
//! become builds, everything else is refused or ignored with a reason.

use bale_trigger::{hook, parse_push, sign, HookOutcome, RefKind, TriggerError};

const SECRET: &[u8] = b"hook secret";
const AFTER: &str = "9f3c2a7d1b4e5f60718293a4b5c6d7e8f9012345";

/// A push event in GitHub's shape (trimmed of fields bale does not read, but not of their neighbours).
fn github_push(full_ref: &str, after: &str, deleted: bool) -> Vec<u8> {
    serde_json::json!({
        "ref": full_ref,
        "before": "0000000000000000000000000000000000000000",
        "after": after,
        "created": !deleted,
        "deleted": deleted,
        "forced": false,
        "base_ref": null,
        "compare": "https://github.com/acme/hello/compare/hello-1.2.0",
        "commits": [{
            "id": after, "tree_id": "5b1c0e0e3f2a4d6c8b9a7f6e5d4c3b2a19080706", "distinct": true,
            "message": "Release 1.2.0", "timestamp": "2026-11-20T10:00:00+01:00",
            "author": {"name": "Ada", "email": "ada@example.org", "username": "ada"},
            "added": [], "removed": [], "modified": ["bale.toml"]
        }],
        "head_commit": {"id": after, "message": "Release 1.2.0"},
        "repository": {
            "id": 123456789, "node_id": "R_kgDOExample", "name": "hello", "full_name": "acme/hello",
            "private": false, "owner": {"name": "acme", "login": "acme", "id": 42},
            "html_url": "https://github.com/acme/hello",
            "git_url": "git://github.com/acme/hello.git",
            "ssh_url": "git@github.com:acme/hello.git",
            "clone_url": "https://github.com/acme/hello.git",
            "default_branch": "main", "master_branch": "main"
        },
        "pusher": {"name": "ada", "email": "ada@example.org"},
        "sender": {"login": "ada", "id": 7}
    })
    .to_string()
    .into_bytes()
}

/// A push event in Gitea's shape (no `deleted` field; a deletion has `after` all zeros).
fn gitea_push(full_ref: &str, after: &str) -> Vec<u8> {
    serde_json::json!({
        "ref": full_ref,
        "before": "1111111111111111111111111111111111111111",
        "after": after,
        "compare_url": "https://gitea.example.org/acme/hello/compare/1111111...9f3c2a7",
        "commits": [{
            "id": after, "message": "Release 1.3.0\n", "url": "https://gitea.example.org/acme/hello/commit/9f3c2a7",
            "author": {"name": "Ada", "email": "ada@example.org", "username": "ada"},
            "committer": {"name": "Ada", "email": "ada@example.org", "username": "ada"},
            "verification": null, "timestamp": "2026-11-20T10:00:00+01:00",
            "added": [], "removed": [], "modified": ["bale.toml"]
        }],
        "total_commits": 1,
        "head_commit": {"id": after, "message": "Release 1.3.0\n"},
        "repository": {
            "id": 17, "owner": {"id": 3, "login": "acme", "full_name": "", "email": "", "username": "acme"},
            "name": "hello", "full_name": "acme/hello", "description": "", "empty": false, "private": false,
            "fork": false, "template": false, "parent": null, "mirror": false, "size": 120,
            "html_url": "https://gitea.example.org/acme/hello",
            "ssh_url": "git@gitea.example.org:acme/hello.git",
            "clone_url": "https://gitea.example.org/acme/hello.git",
            "original_url": "", "website": "", "stars_count": 0, "forks_count": 0, "watchers_count": 1,
            "default_branch": "main", "archived": false
        },
        "pusher": {"id": 3, "login": "ada", "full_name": "Ada", "email": "ada@example.org", "username": "ada"},
        "sender": {"id": 3, "login": "ada", "full_name": "Ada", "email": "ada@example.org", "username": "ada"}
    })
    .to_string()
    .into_bytes()
}

fn github_headers(body: &[u8], event: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("X-GitHub-Event", event.parse().unwrap());
    headers.insert(
        "X-GitHub-Delivery",
        "72d3162e-cc78-11e3-81ab-4c9367dc0958".parse().unwrap(),
    );
    headers.insert("X-Hub-Signature-256", sign(SECRET, body).parse().unwrap());
    headers.insert("Content-Type", "application/json".parse().unwrap());
    headers
}

fn gitea_headers(body: &[u8]) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert("X-Gitea-Event", "push".parse().unwrap());
    headers.insert(
        "X-Gitea-Delivery",
        "f6266f16-1bf3-46a5-9ea4-602e06ead473".parse().unwrap(),
    );
    // Gitea sends the bare hex digest.
    headers.insert(
        "X-Gitea-Signature",
        sign(SECRET, body)
            .trim_start_matches("sha256=")
            .parse()
            .unwrap(),
    );
    headers
}

#[test]
fn a_signed_github_push_of_a_version_branch_becomes_a_build() {
    let body = github_push("refs/heads/hello-1.2.0", AFTER, false);
    let HookOutcome::Build(build) = hook(SECRET, &github_headers(&body, "push"), &body).unwrap()
    else {
        panic!("no build")
    };
    assert_eq!(build.source, "https://github.com/acme/hello.git");
    assert_eq!(build.git_ref, "hello-1.2.0");
    assert_eq!(build.kind, RefKind::Branch);
    assert_eq!(build.commit, AFTER);
    assert_eq!(build.name.as_deref(), Some("hello"));
    assert_eq!(build.version, "1.2.0");
}

#[test]
fn a_signed_gitea_push_of_a_v_tag_becomes_a_build() {
    let body = gitea_push("refs/tags/v1.3.0", AFTER);
    let HookOutcome::Build(build) = hook(SECRET, &gitea_headers(&body), &body).unwrap() else {
        panic!("no build")
    };
    assert_eq!(build.source, "https://gitea.example.org/acme/hello.git");
    assert_eq!(
        (build.git_ref.as_str(), build.kind, build.version.as_str()),
        ("v1.3.0", RefKind::Tag, "1.3.0")
    );
    assert_eq!(build.name, None);
}

#[test]
fn a_push_whose_body_was_changed_after_signing_is_refused_with_401() {
    let body = github_push("refs/heads/hello-1.2.0", AFTER, false);
    let headers = github_headers(&body, "push");
    let tampered = github_push("refs/heads/hello-6.6.6", AFTER, false);
    let err = hook(SECRET, &headers, &tampered).unwrap_err();
    assert!(matches!(err, TriggerError::BadSignature), "{err}");
    assert_eq!(err.http_status(), 401);
}

#[test]
fn an_unsigned_push_is_refused_with_401_saying_how_to_sign() {
    let body = github_push("refs/heads/hello-1.2.0", AFTER, false);
    let mut headers = github_headers(&body, "push");
    headers.remove("X-Hub-Signature-256");
    let err = hook(SECRET, &headers, &body).unwrap_err();
    assert!(matches!(err, TriggerError::MissingSignature));
    assert_eq!(err.http_status(), 401);
    assert!(err.to_string().contains("X-Hub-Signature-256"), "{err}");
}

#[test]
fn a_push_of_a_branch_without_a_version_is_refused_with_422_and_the_accepted_names() {
    let body = gitea_push("refs/heads/feature-x", AFTER);
    let err = hook(SECRET, &gitea_headers(&body), &body).unwrap_err();
    assert_eq!(err.http_status(), 422);
    assert_eq!(err.code(), "refused");
    let text = err.to_string();
    assert!(
        text.contains("branch `feature-x` does not name a version"),
        "{text}"
    );
    assert!(
        text.contains("`<name>-<version>`") && text.contains("`v<version>`"),
        "{text}"
    );
}

#[test]
fn deleting_a_version_branch_builds_nothing() {
    let github = github_push(
        "refs/heads/hello-1.2.0",
        "0000000000000000000000000000000000000000",
        true,
    );
    let outcome = hook(SECRET, &github_headers(&github, "push"), &github).unwrap();
    assert!(
        matches!(&outcome, HookOutcome::Ignored { reason } if reason.contains("deleted")),
        "{outcome:?}"
    );
    // Gitea marks a deletion only by the zero commit.
    let gitea = gitea_push(
        "refs/heads/hello-1.2.0",
        "0000000000000000000000000000000000000000",
    );
    assert!(parse_push(&gitea).unwrap().deleted);
    assert!(matches!(
        hook(SECRET, &gitea_headers(&gitea), &gitea).unwrap(),
        HookOutcome::Ignored { .. }
    ));
}

#[test]
fn a_github_ping_is_answered_without_a_build() {
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1,"hook":{"type":"Repository","events":["push"]}}"#;
    let outcome = hook(SECRET, &github_headers(body, "ping"), body).unwrap();
    assert_eq!(
        outcome,
        HookOutcome::Ignored {
            reason: "a `ping` event is not a push".to_owned()
        }
    );
}

#[test]
fn a_signed_body_that_is_not_a_push_event_is_refused_with_400() {
    for body in [
        &b"not json"[..],
        br#"{"ref":"refs/heads/hello-1.0","after":"9f3c2a7d"}"#,
        br#"{"ref":"refs/heads/a-1","after":"zz","repository":{"clone_url":"x"}}"#,
    ] {
        let err = hook(SECRET, &github_headers(body, "push"), body).unwrap_err();
        assert_eq!(err.http_status(), 400, "{err}");
    }
}
