//! The command line as a user meets it: help, exit codes, diagnostics, JSON.

use crate::common;

use common::{Scratch, MINIMAL};
use predicates::prelude::*;

#[test]
fn every_command_explains_itself_with_help() {
    let s = Scratch::new();
    for cmd in [
        vec!["--help"],
        vec!["init", "--help"],
        vec!["check", "--help"],
        vec!["pack", "--help"],
        vec!["inspect", "--help"],
        vec!["verify", "--help"],
        vec!["key", "--help"],
        vec!["key", "generate", "--help"],
        vec!["key", "trust", "--help"],
        vec!["key", "list", "--help"],
        vec!["sign", "--help"],
        vec!["install", "--help"],
    ] {
        s.bale()
            .args(&cmd)
            .assert()
            .success()
            .stdout(predicate::str::contains("Usage: bale"));
    }
}

#[test]
fn a_usage_error_exits_with_one() {
    let s = Scratch::new();
    s.bale()
        .arg("pack")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--manifest"));
    s.bale().arg("no-such-command").assert().code(1);
}

#[test]
fn check_prints_every_error_with_line_and_column_and_exits_one() {
    let s = Scratch::new();
    s.write(
        "app/bale.toml",
        "[package]\ngroup = \"org.example\"\nname = \"Bad Name\"\nversion = \"v1\"\n\n[build]\nnetwrok = true\ntimeout = \"soon\"\n",
    );
    let out = s
        .bale()
        .args(["check", "app"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("app/bale.toml:3:"),
        "name error located: {stderr}"
    );
    assert!(
        stderr.contains("app/bale.toml:4:"),
        "version error located: {stderr}"
    );
    assert!(stderr.contains("unknown field `netwrok`"), "{stderr}");
    assert!(stderr.contains("did you mean `network`?"), "{stderr}");
    assert!(stderr.contains("soon"), "duration error shown: {stderr}");
    assert!(stderr.contains("^"), "offending text underlined: {stderr}");
}

#[test]
fn check_json_lists_errors_for_scripts() {
    let s = Scratch::new();
    s.write("bale.toml", "[package]\ngroup = \"org.example\"\nname = \"x\"\nversion = \"1\"\n[stack]\nkind = \"cobol\"\n");
    let out = s
        .bale()
        .args(["check", "--json"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(value["ok"], false);
    let errors = value["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["line"], 6);
    assert!(errors[0]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("cobol"));
}

#[test]
fn a_missing_manifest_says_to_run_init() {
    let s = Scratch::new();
    s.bale()
        .arg("check")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bale init"));
}

#[test]
fn init_writes_a_manifest_that_check_accepts_for_each_kind() {
    let s = Scratch::new();
    let trees: &[(&str, &str, &str)] = &[
        ("py", "requirements.txt", "python"),
        ("js", "package.json", "node"),
        ("rb", "Gemfile", "ruby"),
        ("cc", "configure", "c"),
        ("rs", "Cargo.toml", "rust"),
        ("gg", "go.mod", "go"),
        ("site", "index.html", "static"),
    ];
    for (dir, marker, kind) in trees {
        s.write(&format!("{dir}/{marker}"), "\n");
        let out = s
            .bale()
            .args(["init", dir, "--json"])
            .assert()
            .success()
            .get_output()
            .clone();
        let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(value["kind"], *kind, "{dir}");
        s.bale().args(["check", dir]).assert().success();
    }
}

#[test]
fn init_does_not_overwrite_without_force() {
    let s = Scratch::new();
    s.write("bale.toml", MINIMAL);
    s.bale()
        .arg("init")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--force"));
    assert_eq!(
        std::fs::read_to_string(s.path().join("bale.toml")).expect("read"),
        MINIMAL
    );
    s.bale().args(["init", "--force"]).assert().success();
}

#[test]
fn inspect_refuses_a_file_that_is_not_a_package() {
    let s = Scratch::new();
    s.write("junk.bale", "this is not zstd");
    s.bale()
        .args(["inspect", "junk.bale"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("junk.bale"));
}
