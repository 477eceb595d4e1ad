//! Apps in their stack run as their own user and under their `[run] limits`:
//! a service over its memory limit is killed by the kernel, restarted by the
//! supervisor, and `bale apps` says why. Needs root (the sandbox's overlay,
//! the app's user, cgroups).

use crate::deploy_fixture;

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

use bale_testkit::ProcessGuard;
use deploy_fixture::{wait_for, World};

/// A service that records its uid, then allocates 400 MiB under a 64M limit
/// when asked to (`run/grow`), else sleeps.
const HOG: &str = r#"[package]
group = "org.example"
name = "hog"
version = "1.0.0"

[stack]
name = "host"

[run]
limits = { memory = "64M", cpu = "0.5", tasks = 64 }
[run.services]
hog = "id -u > \"$BALE_RUN/uid\"; touch \"$BALE_RUN/owned\"; if test -e \"$BALE_RUN/grow\"; then exec python3 -c 'b = bytearray(400 * 2**20); import time; time.sleep(60)'; fi; exec sleep 100000"
[run.commands]
uid = "id -u"
"#;

fn can_limit() -> bool {
    bale_testkit::require(
        bale_testkit::is_root(),
        "needs root for the sandbox, the app's user and cgroups",
    )
}

/// The `hog` service's entry of `bale apps --json`.
fn hog(world: &World) -> serde_json::Value {
    world.apps()[0]["services"][0].clone()
}

#[test]
fn a_service_over_its_memory_limit_is_killed_restarted_and_the_reason_shown() {
    if !can_limit() {
        return;
    }
    let world = World::new();
    let package = world.package("hog", HOG, &[]);
    world
        .bale()
        .args(["deploy", "hog"])
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .success();
    let run = world.run_dir("hog");
    wait_for("the service to record its uid", || {
        run.join("owned").exists()
    });

    // It runs as the app's own user, who owns what it writes in run/.
    let uid: u32 = std::fs::read_to_string(run.join("uid"))
        .expect("uid")
        .trim()
        .parse()
        .expect("a uid");
    assert_ne!(uid, 0, "the service runs as root");
    assert_eq!(
        std::fs::metadata(run.join("owned")).expect("owned").uid(),
        uid
    );
    let out = world
        .bale()
        .args(["app", "hog", "uid"])
        .output()
        .expect("app");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), uid.to_string());

    // Its limits hold, and `bale apps` says so.
    let limits = hog(&world)["limits"].clone();
    assert_eq!(limits["memory"], "64M", "{limits}");
    assert_eq!(limits["cpu"], "0.5", "{limits}");
    assert_eq!(limits["tasks"], 64, "{limits}");
    assert_eq!(limits["applied"], true, "{limits}");

    // Over the limit: the kernel kills it, the supervisor starts it again.
    std::fs::write(run.join("grow"), "").expect("grow");
    world
        .bale()
        .args(["service", "hog", "restart"])
        .assert()
        .success();
    let _supervisor = ProcessGuard::spawn(
        Command::new(assert_cmd::cargo::cargo_bin("bale"))
            .args([
                "supervise",
                "--first-delay-ms",
                "100",
                "--max-delay-ms",
                "400",
            ])
            .env("BALE_HOME", world.home())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "bale supervise",
    );
    wait_for("a restart after the memory limit killed it", || {
        let service = hog(&world);
        service["restarts"].as_u64().is_some_and(|r| r >= 1)
            && service["last_exit"]["limit"] == "memory"
    });
    let service = hog(&world);
    assert_eq!(
        service["last_exit"]["reason"], "killed by the memory limit (OOM)",
        "{service}"
    );
    let text = world.bale().args(["apps"]).output().expect("apps");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("last exit: killed by the memory limit (OOM)"),
        "{text}"
    );
    assert!(
        text.contains("limits memory 64M, cpu 0.5, tasks 64, applied"),
        "{text}"
    );

    std::fs::remove_file(run.join("grow")).expect("no more growing");
    world.stop("hog");
}
