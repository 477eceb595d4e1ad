//! Password-protected signing keys through the command line: made by
//! `bale key generate --password-file|--password-env` in minisign's
//! encrypted format, opened for signing with BALE_KEY_PASSWORD_FILE or
//! BALE_KEY_PASSWORD, and interchangeable with minisign's own.

use std::process::{Command, Stdio};

use crate::common::Scratch;
use predicates::prelude::*;

/// `minisign ARGS` in `dir` with `stdin`; its output when it succeeded.
fn minisign(dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("minisign")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("minisign (apt-get install minisign)");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("password");
    drop(input);
    child.wait_with_output().expect("minisign")
}

fn assert_minisign_verifies(s: &Scratch, file: &str, public: &std::path::Path) {
    let public = public.display().to_string();
    let out = minisign(s.path(), &["-Vm", file, "-p", &public], "");
    assert!(
        out.status.success(),
        "minisign -Vm {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_key_generated_with_a_password_file_signs_only_given_its_password() {
    let s = Scratch::new();
    s.write("pw.txt", "horse battery staple\n");
    s.write("hello.bale", "pretend package\n");
    s.bale()
        .args([
            "key",
            "generate",
            "--name",
            "enc",
            "--password-file",
            "pw.txt",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("encrypted"));
    let secret = s.home().join("keys/enc.key");
    let text = std::fs::read_to_string(&secret).expect("key");
    assert!(text.starts_with("untrusted comment: minisign encrypted secret key\n"));
    assert!(!text.contains("horse"));

    s.bale()
        .args(["sign", "hello.bale", "--key", "enc"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("BALE_KEY_PASSWORD_FILE"));
    s.bale()
        .env("BALE_KEY_PASSWORD", "wrong horse")
        .args(["sign", "hello.bale", "--key", "enc"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("password does not open"));
    assert!(!s.path().join("hello.bale.minisig").exists());

    s.bale()
        .env("BALE_KEY_PASSWORD_FILE", s.path().join("pw.txt"))
        .args(["sign", "hello.bale", "--key", "enc"])
        .assert()
        .success();
    assert_minisign_verifies(&s, "hello.bale", &s.home().join("keys/enc.pub"));

    // minisign signs with it too, given the password.
    std::fs::remove_file(s.path().join("hello.bale.minisig")).expect("rm");
    let secret = secret.display().to_string();
    let out = minisign(
        s.path(),
        &["-S", "-s", &secret, "-m", "hello.bale"],
        "horse battery staple\n",
    );
    assert!(
        out.status.success(),
        "minisign -S: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_minisign_verifies(&s, "hello.bale", &s.home().join("keys/enc.pub"));
}

#[test]
fn a_key_generated_with_a_password_variable_packs_given_bale_key_password() {
    let s = Scratch::new();
    s.write("root/share/hello.txt", "hello\n");
    s.write("bale.toml", crate::common::MINIMAL);
    s.bale()
        .env("PACKAGE_KEY_PW", "env secret")
        .args(["key", "generate", "--password-env", "PACKAGE_KEY_PW"])
        .assert()
        .success();
    s.bale()
        .env("BALE_KEY_PASSWORD", "env secret")
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
    assert_minisign_verifies(
        &s,
        "tiny-1.0.0-all.bale",
        &s.home().join("keys/default.pub"),
    );
    s.bale()
        .args([
            "key",
            "generate",
            "--name",
            "x",
            "--password-env",
            "UNSET_PW_VAR",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("UNSET_PW_VAR"));
}

#[test]
fn an_encrypted_key_from_minisign_signs_with_bale() {
    let s = Scratch::new();
    s.write("pw.txt", "minisign pw\n");
    s.write("hello.bale", "pretend package\n");
    let out = minisign(
        s.path(),
        &["-G", "-p", "mini.pub", "-s", "mini.key"],
        "minisign pw\nminisign pw\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.bale()
        .env("BALE_KEY_PASSWORD_FILE", s.path().join("pw.txt"))
        .args(["sign", "hello.bale", "--key", "mini.key"])
        .assert()
        .success();
    assert_minisign_verifies(&s, "hello.bale", &s.path().join("mini.pub"));
}
