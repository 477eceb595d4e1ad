//! `bale build` on the host stack: the example static site, signing, and a
//! failing action's report.

use crate::common;

use common::{copy_tree, examples, Scratch};
use predicates::prelude::*;

/// examples/static-docs in the scratch dir, moved onto the host stack.
fn static_docs(s: &Scratch) -> std::path::PathBuf {
    let dir = s.path().join("static-docs");
    copy_tree(&examples().join("static-docs"), &dir);
    let manifest = std::fs::read_to_string(dir.join("bale.toml")).expect("read");
    std::fs::write(
        dir.join("bale.toml"),
        manifest.replace("name = \"debian-bookworm\"", "name = \"host\""),
    )
    .expect("write");
    dir
}

#[test]
fn build_makes_the_static_docs_package_runs_its_tests_and_writes_its_facts() {
    let s = Scratch::new();
    let dir = static_docs(&s);
    let out = s
        .bale()
        .args(["build", "static-docs", "-o", "out", "--json"])
        .output()
        .expect("run bale");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(s.path().join("out/static-docs-1.0.0-all.bale").is_file());
    assert!(s.path().join("out/static-docs-1.0.0.build.json").is_file());
    let test = json["build"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|st| st["name"] == "test")
        .expect("a test step");
    assert_eq!(test["status"], "ok");
    assert_eq!(json["build"]["tests"], 2);
    assert!(dir.join("bale.toml").is_file(), "the source is left alone");
    s.bale()
        .args(["inspect", "out/static-docs-1.0.0-all.bale"])
        .assert()
        .success()
        .stdout(predicate::str::contains("app/site/index.html"));
}

#[test]
fn build_with_a_key_signs_the_package() {
    let s = Scratch::new();
    static_docs(&s);
    s.bale().args(["key", "generate"]).assert().success();
    s.bale()
        .args(["build", "static-docs", "-o", "out", "--key", "default"])
        .assert()
        .success();
    assert!(s
        .path()
        .join("out/static-docs-1.0.0-all.bale.minisig")
        .is_file());
    s.bale()
        .args(["verify", "out/static-docs-1.0.0-all.bale"])
        .assert()
        .success();
}

#[test]
fn a_failing_action_exits_one_naming_the_step_the_command_and_its_exit_code() {
    let s = Scratch::new();
    s.write(
        "app/bale.toml",
        "[package]\ngroup = \"org.example\"\nname = \"broken\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\n\n[build]\nmain = [\"echo about to fail\", \"echo the reason >&2; exit 4\"]\n",
    );
    s.bale()
        .args(["build", "app", "-o", "out"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains(
                "step `main` failed: `echo the reason >&2; exit 4` exited with 4",
            )
            .and(predicate::str::contains("the reason"))
            .and(predicate::str::contains("broken-1.0.0.build.log")),
        );
    assert!(!s.path().join("out/broken-1.0.0-all.bale").exists());
}

fn project(s: &Scratch, main: &str) {
    s.write(
        "app/bale.toml",
        &format!("[package]\ngroup = \"org.example\"\nname = \"twice\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\n\n[build]\nmain = [{main}]\n"),
    );
}

#[test]
fn check_accepts_a_build_that_gives_the_same_bytes_twice() {
    let s = Scratch::new();
    project(
        &s,
        "\"mkdir -p $BALE_PREFIX/share\", \"echo same > $BALE_PREFIX/share/data\"",
    );
    s.bale()
        .args(["build", "app", "-o", "out", "--check"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Reproduced"));
}

#[test]
fn check_refuses_a_build_that_differs_and_names_the_file() {
    let s = Scratch::new();
    project(
        &s,
        "\"mkdir -p $BALE_PREFIX/share\", \"head -c 16 /dev/urandom > $BALE_PREFIX/share/random\"",
    );
    s.bale()
        .args(["build", "app", "-o", "out", "--check"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("not reproducible")
                .and(predicate::str::contains("share/random")),
        );
}

#[test]
fn check_refuses_a_build_that_records_the_host_name_or_the_umask() {
    let s = Scratch::new();
    project(&s, "\"mkdir -p $BALE_PREFIX/share\", \"cat /proc/sys/kernel/hostname > $BALE_PREFIX/share/host\"");
    s.bale()
        .args(["build", "app", "-o", "out", "--check"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("not reproducible")
                .and(predicate::str::contains("share/host")),
        );
    let s = Scratch::new();
    project(
        &s,
        "\"mkdir -p $BALE_PREFIX/share\", \"umask > $BALE_PREFIX/share/umask\"",
    );
    s.bale()
        .args(["build", "app", "-o", "out", "--check"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("not reproducible")
                .and(predicate::str::contains("share/umask")),
        );
}

#[test]
fn the_admins_kinds_file_changes_a_kinds_default_main_and_the_build_runs_it() {
    let s = Scratch::new();
    s.write(
        "home/kinds.toml",
        "[static]\nmain = [\"mkdir -p $BALE_PREFIX/share\", \"echo set by the admin > $BALE_PREFIX/share/origin\"]\n",
    );
    s.write(
        "app/bale.toml",
        "[package]\ngroup = \"org.example\"\nname = \"kinded\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\nkind = \"static\"\n\n[test]\ncommands = [\"grep -qx 'set by the admin' share/origin\"]\n",
    );
    // The [test] passes only when the admin's main action wrote the file.
    s.bale()
        .args(["build", "app", "-o", "out"])
        .assert()
        .success();
    s.bale()
        .args(["inspect", "out/kinded-1.0.0-all.bale"])
        .assert()
        .success()
        .stdout(predicate::str::contains("share/origin"));

    // Without the file the shipped static kind has no main action.
    std::fs::remove_file(s.home().join("kinds.toml")).expect("rm");
    s.bale()
        .args(["build", "app", "-o", "out2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("step `test` failed"));
}

#[test]
fn a_kind_the_admin_adds_is_accepted_by_build() {
    let s = Scratch::new();
    s.write(
        "home/kinds.toml",
        "[site]\nmain = [\"mkdir -p $BALE_PREFIX/www\", \"cp index.html $BALE_PREFIX/www/\"]\n",
    );
    s.write("app/index.html", "<h1>hi</h1>\n");
    s.write(
        "app/bale.toml",
        "[package]\ngroup = \"org.example\"\nname = \"sited\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\nkind = \"site\"\n",
    );
    s.bale()
        .args(["build", "app", "-o", "out"])
        .assert()
        .success();
    assert!(s.path().join("out/sited-1.0.0-all.bale").is_file());
}

#[test]
fn a_broken_kinds_file_stops_the_build_naming_the_file() {
    let s = Scratch::new();
    s.write("home/kinds.toml", "[static]\nmian = []\n");
    static_docs(&s);
    s.bale()
        .args(["build", "static-docs", "-o", "out"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("kinds.toml").and(predicate::str::contains("mian")));
    assert!(!s.path().join("out").exists());
}

#[test]
fn a_kind_the_admin_adds_is_accepted_by_check_and_unknown_without_the_file() {
    let s = Scratch::new();
    s.write("home/kinds.toml", "[site]\nmain = [\"true\"]\n");
    s.write(
        "app/bale.toml",
        "[package]\ngroup = \"org.example\"\nname = \"sited\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\nkind = \"site\"\n",
    );
    s.bale()
        .args(["check", "app"])
        .assert()
        .success()
        .stderr(predicate::str::contains("kind site"));
    std::fs::remove_file(s.home().join("kinds.toml")).expect("rm");
    s.bale()
        .args(["check", "app"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("site"));
}
