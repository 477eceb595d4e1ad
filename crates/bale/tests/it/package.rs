//! Packing, signing, verifying and installing through the command line.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use bale_testkit::{group_members, http_get, wait_until};
use common::{copy_tree, examples, free_port, Scratch, MINIMAL};
use predicates::prelude::*;

/// A prepared root with a binary, a config file and a script.
fn tiny_root(s: &Scratch) -> std::path::PathBuf {
    let root = s.path().join("root");
    s.write("root/bin/tiny", "#!/bin/sh\necho tiny\n");
    fs::set_permissions(root.join("bin/tiny"), fs::Permissions::from_mode(0o755)).expect("chmod");
    s.write("root/etc/tiny.conf", "greeting = hello\n");
    s.write("root/share/doc/README", "tiny\n");
    s.write("bale.toml", MINIMAL);
    root
}

#[test]
fn pack_twice_gives_identical_bytes_and_json_facts() {
    let s = Scratch::new();
    let root = tiny_root(&s);
    let out = s
        .bale()
        .args([
            "pack",
            "root",
            "--manifest",
            "bale.toml",
            "-o",
            "a",
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(facts["coordinate"], "org.example:tiny:1.0.0");
    // A different mtime on the tree does not change the bytes.
    Command::new("touch")
        .args(["-d", "2001-01-01"])
        .arg(root.join("bin/tiny"))
        .status()
        .expect("touch");
    s.bale()
        .args(["pack", "root", "--manifest", "bale.toml", "-o", "b"])
        .assert()
        .success();
    let a = fs::read(s.path().join("a/tiny-1.0.0-all.bale")).expect("a");
    let b = fs::read(s.path().join("b/tiny-1.0.0-all.bale")).expect("b");
    assert_eq!(a, b);
    assert_eq!(facts["sha256"].as_str().map(str::len), Some(64));
}

#[test]
fn inspect_shows_classes_and_json_is_the_index() {
    let s = Scratch::new();
    tiny_root(&s);
    s.bale()
        .args(["pack", "root", "--manifest", "bale.toml"])
        .assert()
        .success();
    s.bale()
        .args(["inspect", "tiny-1.0.0-all.bale"])
        .assert()
        .success()
        .stdout(predicate::str::contains("org.example:tiny:1.0.0"))
        .stdout(predicate::str::contains("config"))
        .stdout(predicate::str::contains("script"));
    let out = s
        .bale()
        .args(["inspect", "tiny-1.0.0-all.bale", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let index: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let conf = index["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "etc/tiny.conf")
        .cloned();
    assert_eq!(conf.expect("etc/tiny.conf listed")["class"], "config");
}

#[test]
fn a_signed_package_verifies_with_bale_and_minisign_and_a_flipped_byte_fails_both() {
    let s = Scratch::new();
    tiny_root(&s);
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
    s.bale()
        .args(["verify", "tiny-1.0.0-all.bale"])
        .assert()
        .success()
        .stdout(predicate::str::contains("signature: good"));
    let pubkey = s.home().join("keys/default.pub");
    let minisign = |file: &str| {
        Command::new("minisign")
            .args(["-Vm", file, "-p"])
            .arg(&pubkey)
            .current_dir(s.path())
            .output()
            .expect("minisign must be installed: apt-get install minisign")
    };
    assert!(minisign("tiny-1.0.0-all.bale").status.success());

    let mut bytes = fs::read(s.path().join("tiny-1.0.0-all.bale")).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(s.path().join("tiny-1.0.0-all.bale"), &bytes).expect("write");
    assert!(!minisign("tiny-1.0.0-all.bale").status.success());
    s.bale()
        .args(["verify", "tiny-1.0.0-all.bale"])
        .assert()
        .code(1);
}

#[test]
fn an_unsigned_package_is_refused_unless_allowed() {
    let s = Scratch::new();
    tiny_root(&s);
    s.bale()
        .args(["pack", "root", "--manifest", "bale.toml"])
        .assert()
        .success();
    s.bale()
        .args(["install", "tiny-1.0.0-all.bale"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--allow-unsigned"));
    assert!(!s.home().join("pkgs/org/example/tiny").exists());
    s.bale()
        .args(["install", "tiny-1.0.0-all.bale", "--allow-unsigned"])
        .assert()
        .success();
}

#[test]
fn install_is_read_only_idempotent_and_verify_names_a_modified_file() {
    let s = Scratch::new();
    let root = tiny_root(&s);
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
    s.bale()
        .args(["install", "tiny-1.0.0-all.bale"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Installed"));
    s.bale()
        .args(["install", "tiny-1.0.0-all.bale"])
        .assert()
        .success()
        .stderr(predicate::str::contains("already installed"));
    let dir = s.home().join("pkgs/org/example/tiny/1.0.0");
    let mode = fs::metadata(dir.join("etc/tiny.conf"))
        .expect("installed")
        .permissions()
        .mode();
    assert_eq!(mode & 0o222, 0, "installed files are read-only");

    // A different package under the same coordinate is refused.
    s.write("root/etc/tiny.conf", "greeting = changed\n");
    let _ = root;
    s.bale()
        .args([
            "pack",
            "root",
            "--manifest",
            "bale.toml",
            "-o",
            "other",
            "--key",
            "default",
        ])
        .assert()
        .success();
    s.bale()
        .args(["install", "other/tiny-1.0.0-all.bale"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("one set of bytes"));

    s.bale()
        .args(["verify", "org.example:tiny:1.0.0"])
        .assert()
        .success();
    let conf = dir.join("etc/tiny.conf");
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o644)).expect("chmod");
    fs::write(&conf, "greeting = tampered\n").expect("tamper");
    s.bale()
        .args(["verify", "org.example:tiny:1.0.0"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("etc/tiny.conf"));
}

/// The copkg contract: the generated scripts start and stop the package's
/// services on any machine, with no bale process running.
#[test]
fn start_sh_alone_runs_the_example_and_stop_sh_leaves_no_process() {
    let s = Scratch::new();
    let example = examples().join("hello-web");
    copy_tree(&example.join("public"), &s.path().join("root/app/public"));
    s.bale().args(["key", "generate"]).assert().success();
    s.bale()
        .args(["pack", "root", "--manifest"])
        .arg(example.join("bale.toml"))
        .args(["--key", "default"])
        .assert()
        .success();
    s.bale()
        .args(["install", "hello-web-1.0.0-all.bale"])
        .assert()
        .success();
    let pkg = s.home().join("pkgs/org/example/hello-web/1.0.0");
    let run = s.path().join("run");
    let port = free_port();

    let started = Command::new(pkg.join("script.d/start.sh"))
        .arg(format!("--run={}", run.display()))
        .env("PORT", port.to_string())
        .output()
        .expect("start.sh runs");
    assert!(
        started.status.success(),
        "start.sh: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let pid: u32 = fs::read_to_string(run.join("pid/web.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");

    let body = wait_until(Duration::from_secs(10), "the web service to answer", || {
        http_get(port, "/")
    });
    let stopped = Command::new(pkg.join("script.d/stop.sh"))
        .arg(format!("--run={}", run.display()))
        .output()
        .expect("stop.sh");
    assert!(
        stopped.status.success(),
        "stop.sh: {}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(body.contains("Hello from a bale package"), "answer: {body}");
    assert!(!run.join("pid/web.pid").exists());
    assert!(
        group_members(pid).is_empty(),
        "processes left in group {pid}: {:?}",
        group_members(pid)
    );
}
