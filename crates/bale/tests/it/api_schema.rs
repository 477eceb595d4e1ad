//! The API under attack: schemathesis (pinned in scripts/setup) generates
//! requests from `/api/v1/openapi.json` against a live `bale serve` and
//! checks that no answer is a server error and that every answer's status,
//! content type and body are what the document says. A token (from the
//! config file's environment, never the command line) lets the write calls
//! be exercised past their authorization.

use std::process::Command;

use crate::common::{free_port, Scratch};

/// Whether schemathesis can be run here.
fn schemathesis_installed() -> bool {
    Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// schemathesis's configuration: the token header from the environment.
const CONFIG: &str = r#"headers = { Authorization = "Bearer ${BALE_SCHEMATHESIS_TOKEN}" }
"#;

fn run_schemathesis(s: &Scratch, url: &str, token: &str, report: &str) -> (bool, String) {
    let out = Command::new("schemathesis")
        .current_dir(s.path())
        .args(["--no-color", "--config-file", "schemathesis.toml", "run"])
        .arg(format!("{url}/api/v1/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            // Creating or sanitizing a stack runs debootstrap: minutes, not a fuzz case.
            "--exclude-path-regex",
            "^/api/v1/stacks/[^/]+/(create|sanitize)$",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "25",
            "--seed",
            "7",
            "--workers",
            "2",
            "--request-timeout",
            "20",
            "--report",
            "junit",
            "--report-junit-path",
        ])
        .arg(report)
        .env("BALE_SCHEMATHESIS_TOKEN", token)
        .output()
        .expect("schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The summary lines of a run (what the report quotes).
fn summary(text: &str) -> String {
    text.lines()
        .filter(|l| {
            l.contains("passed")
                || l.contains("failed")
                || l.contains("test cases")
                || l.contains("operations")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    if !bale_testkit::require(
        schemathesis_installed(),
        "needs schemathesis (scripts/setup installs it: pip install schemathesis)",
    ) {
        return;
    }
    let s = Scratch::new();
    s.write("schemathesis.toml", CONFIG);
    let out = s
        .bale()
        .args(["token", "create", "--scope", "admin"])
        .output()
        .expect("bale token create");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let port = free_port();
    // No workers: queued builds stay queued, nothing is built from a fuzzed source.
    let server = s
        .serve()
        .port(port)
        .args(["--workers", "0", "--no-supervise"])
        .log(s.path().join("serve.log"))
        .start();
    let (passed, text) = run_schemathesis(&s, &server.url, &token, "open.xml");
    eprintln!("schemathesis against an open server:\n{}", summary(&text));
    assert!(passed, "schemathesis found problems:\n{text}");
}

#[test]
fn schemathesis_finds_a_private_server_true_to_the_document_too() {
    if !bale_testkit::require(
        schemathesis_installed(),
        "needs schemathesis (scripts/setup installs it: pip install schemathesis)",
    ) {
        return;
    }
    let s = Scratch::new();
    s.write("schemathesis.toml", CONFIG);
    s.write("home/config.toml", "[server]\nprivate = true\n");
    let out = s
        .bale()
        .args(["token", "create", "--scope", "read"])
        .output()
        .expect("bale token create");
    assert!(out.status.success());
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let port = free_port();
    let server = s
        .serve()
        .port(port)
        .args(["--workers", "0", "--no-supervise"])
        .log(s.path().join("serve.log"))
        .start();
    let (passed, text) = run_schemathesis(&s, &server.url, &token, "private.xml");
    eprintln!("schemathesis against a private server:\n{}", summary(&text));
    assert!(passed, "schemathesis found problems:\n{text}");
}
