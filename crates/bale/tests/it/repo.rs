//! The repository through the command line: serve, token, publish, fetch,
//! and install by coordinate.

use crate::common;

use bale_testkit::Served;
use common::{free_port, Scratch, MINIMAL};
use predicates::prelude::*;

fn serve(s: &Scratch, port: u16) -> Served {
    s.serve().port(port).start()
}

#[test]
fn a_published_package_installs_by_coordinate_and_fetches() {
    let s = Scratch::new();
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

    let out = s
        .bale()
        .args(["token", "create", "--scope", "publish", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let token = token["token"].as_str().expect("token").to_owned();

    let port = free_port();
    let _server = serve(&s, port);
    let repo = format!("http://127.0.0.1:{port}");

    s.bale()
        .args(["publish", "tiny-1.0.0-all.bale", "--repo", &repo])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("401").or(predicate::str::contains("token")));
    s.bale()
        .env("BALE_TOKEN", &token)
        .args(["publish", "tiny-1.0.0-all.bale", "--repo", &repo])
        .assert()
        .success()
        .stderr(predicate::str::contains("Published"));
    s.bale()
        .env("BALE_TOKEN", &token)
        .args(["publish", "tiny-1.0.0-all.bale", "--repo", &repo])
        .assert()
        .success()
        .stderr(predicate::str::contains("Unchanged"));

    s.bale()
        .args(["install", "org.example:tiny:1.0.0", "--repo", &repo])
        .assert()
        .success();
    assert!(s
        .home()
        .join("pkgs/org/example/tiny/1.0.0/share/hello.txt")
        .is_file());

    s.bale()
        .args([
            "fetch",
            "org.example:tiny:1.0.0",
            "--repo",
            &repo,
            "-o",
            "fetched",
        ])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(s.path().join("fetched/tiny-1.0.0-all.bale")).expect("fetched"),
        std::fs::read(s.path().join("tiny-1.0.0-all.bale")).expect("packed")
    );

    s.bale()
        .args(["install", "org.example:tiny:9.9.9", "--repo", &repo])
        .assert()
        .code(1);
    assert!(!s.home().join("pkgs/org/example/tiny/9.9.9").exists());
}

#[test]
fn an_unreachable_repository_is_a_clear_error() {
    let s = Scratch::new();
    let port = free_port();
    s.bale()
        .args([
            "fetch",
            "org.example:tiny:1.0.0",
            "--repo",
            &format!("http://127.0.0.1:{port}"),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("127.0.0.1"));
}

#[test]
fn deploy_by_coordinate_installs_from_the_repository_first() {
    let s = Scratch::new();
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
    let out = s
        .bale()
        .args(["token", "create", "--scope", "publish", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let port = free_port();
    let _server = serve(&s, port);
    let repo = format!("http://127.0.0.1:{port}");
    s.bale()
        .env("BALE_TOKEN", token["token"].as_str().expect("token"))
        .args(["publish", "tiny-1.0.0-all.bale", "--repo", &repo])
        .assert()
        .success();
    std::fs::write(s.home().join("config.toml"), "isolation = \"none\"\n").expect("config");
    assert!(!s.home().join("pkgs/org/example/tiny/1.0.0").exists());

    s.bale()
        .args(["deploy", "tiny", "org.example:tiny:1.0.0", "--repo", &repo])
        .assert()
        .success();
    assert!(
        s.home()
            .join("pkgs/org/example/tiny/1.0.0/share/hello.txt")
            .is_file(),
        "installed from the repository"
    );
    let apps = s
        .bale()
        .args(["apps", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let apps: serde_json::Value = serde_json::from_slice(&apps).expect("JSON");
    assert_eq!(
        apps[0]["current"]["coordinate"], "org.example:tiny:1.0.0",
        "{apps}"
    );

    // Not in the repository: a clear error, nothing deployed.
    s.bale()
        .args(["deploy", "tiny", "org.example:tiny:9.9.9", "--repo", &repo])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("9.9.9"));
}
