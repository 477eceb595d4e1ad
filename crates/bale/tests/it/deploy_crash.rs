//! A deploy killed with SIGKILL as each step of docs/runtime.md's sequence begins
//! (the `BALE_TEST_KILL_AT` testing aid) leaves `bale apps` showing a
//! consistent state, and the next deploy completes.

use crate::deploy_fixture;

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;

use deploy_fixture::{http_get, wait_for, World};

fn manifest(version: &str, port: u16) -> String {
    format!(
        r#"[package]
group = "org.example"
name = "web"
version = "{version}"

[stack]
name = "host"

[hooks]
post-upgrade = ["echo {version} >> \"$BALE_RUN/upgrades\""]

[run]
workdir = "app"
[run.services]
web = "exec python3 -m http.server --bind 127.0.0.1 $PORT"

[kits.web]
ports = [{{ name = "http", port = {port} }}]
health = {{ http = "/version", timeout = "10s" }}
"#
    )
}

fn package(world: &World, version: &str, port: u16) -> PathBuf {
    let body = format!("{version}\n");
    world.package(
        version,
        &manifest(version, port),
        &[("app/version", &body, false)],
    )
}

fn killed_at(step: &str) {
    let world = World::new();
    world.isolation_none();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let v1 = package(&world, "1.0.0", port);
    let v2 = package(&world, "2.0.0", port);
    world
        .bale()
        .args(["deploy", "web"])
        .arg(&v1)
        .arg("--allow-unsigned")
        .assert()
        .success();

    let out = world
        .bale()
        .args(["deploy", "web"])
        .arg(&v2)
        .arg("--allow-unsigned")
        .env("BALE_TEST_KILL_AT", step)
        .output()
        .expect("deploy");
    assert_eq!(
        out.status.signal(),
        Some(9),
        "the deploy was not killed at {step}: {out:?}"
    );

    // Consistent: one current deployment, old or new, and only whole deployments listed.
    let apps = world.apps();
    let app = &apps[0];
    let current = app["current"]["coordinate"]
        .as_str()
        .expect("a current deployment")
        .to_owned();
    assert!(
        current == "org.example:web:1.0.0" || current == "org.example:web:2.0.0",
        "{current}"
    );
    for deployment in app["deployments"].as_array().expect("deployments") {
        let coordinate = deployment["coordinate"].as_str().expect("coordinate");
        assert!(
            coordinate.ends_with(":1.0.0") || coordinate.ends_with(":2.0.0"),
            "{deployment}"
        );
    }
    assert!(
        app["deployments"]
            .as_array()
            .expect("deployments")
            .iter()
            .any(|d| d["coordinate"] == current.as_str()),
        "current is not among the deployments: {app}"
    );

    // The next deploy completes and the new version answers.
    world
        .bale()
        .args(["deploy", "web"])
        .arg(&v2)
        .arg("--allow-unsigned")
        .assert()
        .success();
    wait_for("the new version to answer", || {
        http_get(port, "/version").as_deref() == Some("2.0.0")
    });
    let apps = world.apps();
    assert_eq!(apps[0]["current"]["coordinate"], "org.example:web:2.0.0");
    assert_eq!(apps[0]["services"][0]["state"], "running");
    world.stop("web");
}

macro_rules! crash_tests {
    ($($name:ident => $step:literal,)*) => {$(
        #[test]
        fn $name() {
            killed_at($step);
        }
    )*};
}

crash_tests! {
    a_deploy_killed_at_install_recovers => "install",
    a_deploy_killed_at_kits_recovers => "kits",
    a_deploy_killed_at_deployment_recovers => "deployment",
    a_deploy_killed_at_hooks_before_recovers => "hooks-before",
    a_deploy_killed_at_stop_recovers => "stop",
    a_deploy_killed_at_switch_recovers => "switch",
    a_deploy_killed_at_hooks_after_recovers => "hooks-after",
    a_deploy_killed_at_start_recovers => "start",
    a_deploy_killed_at_post_deploy_recovers => "post-deploy",
    a_deploy_killed_at_keep_recovers => "keep",
}

#[test]
fn every_deploy_step_has_a_crash_test() {
    let source = include_str!("deploy_crash.rs");
    for step in bale_app::DEPLOY_STEPS {
        assert!(
            source.contains(&format!("=> \"{step}\"")),
            "no crash test for step {step}"
        );
    }
}
