//! `bale export apk` through the command line: what it writes and says,
//! and its refusals with their exit codes. The apk itself is checked with
//! apk-tools in bale-export's tests.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use common::{Scratch, MINIMAL};

/// `bale pack`s `root/` (with `bin/tiny`, a script) and returns the package file.
fn pack(s: &Scratch) -> PathBuf {
    s.write("root/bin/tiny", "#!/bin/sh\necho tiny\n");
    fs::set_permissions(
        s.path().join("root/bin/tiny"),
        fs::Permissions::from_mode(0o755),
    )
    .expect("chmod");
    s.write("root/etc/tiny.conf", "greeting = hello\n");
    s.write("bale.toml", MINIMAL);
    s.bale()
        .args(["pack", "root", "--manifest", "bale.toml", "-o", "pkg"])
        .assert()
        .success();
    let mut files: Vec<PathBuf> = fs::read_dir(s.path().join("pkg"))
        .expect("pkg/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bale"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.remove(0)
}

/// An RSA key made by `openssl genrsa`, as docs/exports.md says.
fn key(s: &Scratch) -> PathBuf {
    let key = s.path().join("packager.pem");
    let status = Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .expect("openssl");
    assert!(status.status.success());
    key
}

#[test]
fn export_apk_writes_the_apk_and_its_public_key_and_says_how_to_install_them() {
    let s = Scratch::new();
    let package = pack(&s);
    let key = key(&s);
    let out = s
        .bale()
        .args(["--json", "export", "apk"])
        .arg(&package)
        .arg("--key")
        .arg(&key)
        .args(["-o", "dist"])
        .assert()
        .success()
        .get_output()
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let written = json["written"].as_array().expect("written");
    let paths: Vec<&str> = written.iter().filter_map(|w| w["path"].as_str()).collect();
    assert_eq!(paths, ["dist/tiny-1.0.0-r0.apk", "dist/packager.rsa.pub"]);
    for w in written {
        assert!(w["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:")));
    }
    let apk = fs::read(s.path().join("dist/tiny-1.0.0-r0.apk")).expect("the apk");
    assert_eq!(written[0]["size"].as_u64(), Some(apk.len() as u64));

    let out = s
        .bale()
        .args(["export", "apk"])
        .arg(&package)
        .arg("--key")
        .arg(&key)
        .args(["-o", "again"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cp again/packager.rsa.pub /etc/apk/keys/packager.rsa.pub"),
        "{stderr}"
    );
    assert_eq!(
        fs::read(s.path().join("again/tiny-1.0.0-r0.apk")).expect("again"),
        apk,
        "the same package and key give the same bytes"
    );
    let secret = fs::read_to_string(&key).expect("key");
    let body = secret.lines().nth(1).expect("a line of the key");
    assert!(!stderr.contains(body) && !String::from_utf8_lossy(&out.stdout).contains(body));
}

#[test]
fn export_apk_refuses_a_glibc_linked_package_naming_the_file_with_exit_code_1() {
    let s = Scratch::new();
    s.write("hello.c", "int main(void) { return 0; }\n");
    fs::create_dir_all(s.path().join("root/bin")).expect("mkdir");
    let status = Command::new("gcc")
        .arg("-o")
        .arg(s.path().join("root/bin/hello"))
        .arg(s.path().join("hello.c"))
        .status()
        .expect("gcc");
    assert!(status.success());
    let package = pack(&s);
    let key = key(&s);
    let out = s
        .bale()
        .args(["export", "apk"])
        .arg(&package)
        .arg("--key")
        .arg(&key)
        .args(["-o", "dist"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("linked against glibc"), "{stderr}");
    assert!(
        stderr.contains("bin/hello (interpreter /lib64/ld-linux-x86-64.so.2)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("bin/tiny"),
        "a script is not linked: {stderr}"
    );
    assert!(!s.path().join("dist/tiny-1.0.0-r0.apk").exists());
}

#[test]
fn export_apk_with_a_missing_key_is_the_users_error_naming_the_file() {
    let s = Scratch::new();
    let package = pack(&s);
    let out = s
        .bale()
        .args(["export", "apk"])
        .arg(&package)
        .args(["--key", "nowhere.pem"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nowhere.pem: cannot read the key"),
        "{stderr}"
    );
}
