//! `bale install URL`: a package on a plain HTTP server (python3 -m
//! http.server), its signature fetched from beside it and checked against
//! the trusted keys; a package with no signature there is refused unless
//! `--allow-unsigned`.

use crate::deploy_fixture;

use std::path::Path;
use std::process::{Command, Stdio};

use bale_testkit::{free_port, ProcessGuard};
use deploy_fixture::{wait_for, World};

const MANIFEST: &str = r#"[package]
group = "org.example"
name = "fetched"
version = "1.0.0"

[stack]
name = "host"
"#;

/// Serves `dir` over HTTP on a free loopback port; returns its guard and base URL.
fn http_server(dir: &Path) -> (ProcessGuard, String) {
    let port = free_port();
    let guard = ProcessGuard::spawn(
        Command::new("python3")
            .args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "python3 -m http.server",
    );
    wait_for("the HTTP server", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    (guard, format!("http://127.0.0.1:{port}"))
}

/// A signed package (and its .minisig) in `served/`, signed by this world's trusted key.
fn served_package(world: &World, signed: bool) -> std::path::PathBuf {
    world.bale().args(["key", "generate"]).assert().success();
    let package = world.package("fetched", MANIFEST, &[("app/hello", "hello\n", false)]);
    let served = world.dir.path().join("served");
    std::fs::create_dir_all(&served).expect("served");
    std::fs::copy(&package, served.join("fetched-1.0.0.bale")).expect("copy");
    if signed {
        world
            .bale()
            .arg("sign")
            .arg(served.join("fetched-1.0.0.bale"))
            .assert()
            .success();
        assert!(served.join("fetched-1.0.0.bale.minisig").is_file());
    }
    served
}

fn installed(world: &World) -> bool {
    world
        .home()
        .join("pkgs/org/example/fetched/1.0.0/app/hello")
        .is_file()
}

#[test]
fn a_signed_package_at_an_http_url_is_downloaded_verified_and_installed() {
    let world = World::new();
    let served = served_package(&world, true);
    let (_server, base) = http_server(&served);
    world
        .bale()
        .arg("install")
        .arg(format!("{base}/fetched-1.0.0.bale"))
        .assert()
        .success();
    assert!(installed(&world));
    // Nothing of the download is left behind.
    let tmp = world.home().join("tmp");
    assert_eq!(std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0), 0);
}

#[test]
fn a_package_url_with_no_signature_beside_it_is_refused_unless_allowed() {
    let world = World::new();
    let served = served_package(&world, false);
    let (_server, base) = http_server(&served);
    let url = format!("{base}/fetched-1.0.0.bale");
    let out = world
        .bale()
        .arg("install")
        .arg(&url)
        .output()
        .expect("bale install");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("no signature at {url}.minisig"))
            && stderr.contains("--allow-unsigned"),
        "{stderr}"
    );
    assert!(!installed(&world));
    world
        .bale()
        .args(["install", "--allow-unsigned"])
        .arg(&url)
        .assert()
        .success();
    assert!(installed(&world));
}

#[test]
fn a_package_whose_signature_does_not_match_is_refused() {
    let world = World::new();
    let served = served_package(&world, true);
    // Another package's bytes under the signed name.
    let other = world.package(
        "other",
        MANIFEST,
        &[("app/hello", "something else\n", false)],
    );
    std::fs::copy(&other, served.join("fetched-1.0.0.bale")).expect("copy");
    let (_server, base) = http_server(&served);
    let out = world
        .bale()
        .arg("install")
        .arg(format!("{base}/fetched-1.0.0.bale"))
        .output()
        .expect("bale install");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!installed(&world));
}

#[test]
fn a_url_that_is_not_there_says_so() {
    let world = World::new();
    let served = world.dir.path().join("empty");
    std::fs::create_dir_all(&served).expect("dir");
    let (_server, base) = http_server(&served);
    let out = world
        .bale()
        .arg("install")
        .arg(format!("{base}/missing-1.0.0.bale"))
        .output()
        .expect("bale install");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("404"), "{stderr}");
}
