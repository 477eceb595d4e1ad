//! `bale gc` removes the installed packages no kept deployment uses, and
//! never one a kept deployment (the current one included) uses.

use crate::deploy_fixture;

use deploy_fixture::World;

fn sleeper(version: &str) -> String {
    format!(
        r#"[package]
group = "org.example"
name = "sleeper"
version = "{version}"

[stack]
name = "host"

[run.services]
main = "exec sleep 600"
"#
    )
}

fn installed(world: &World) -> Vec<String> {
    let dir = world.home().join("pkgs/org/example/sleeper");
    let mut versions: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
}

fn gc_json(world: &World, args: &[&str]) -> serde_json::Value {
    let out = world
        .bale()
        .arg("gc")
        .args(args)
        .arg("--json")
        .output()
        .expect("bale gc");
    assert!(
        out.status.success(),
        "bale gc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn coordinates(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|p| p["coordinate"].as_str().expect("coordinate").to_owned())
        .collect()
}

#[test]
fn gc_removes_exactly_the_packages_no_kept_deployment_uses() {
    let world = World::new();
    world.isolation_none();
    for version in ["1.0.0", "2.0.0", "3.0.0"] {
        let package = world.package(version, &sleeper(version), &[]);
        world
            .bale()
            .args(["deploy", "sleeper", "--keep", "2", "--allow-unsigned"])
            .arg(&package)
            .assert()
            .success();
    }
    // Installed, never deployed.
    let lone = world.package("4.0.0", &sleeper("4.0.0"), &[]);
    world
        .bale()
        .args(["install", "--allow-unsigned"])
        .arg(&lone)
        .assert()
        .success();
    assert_eq!(installed(&world), ["1.0.0", "2.0.0", "3.0.0", "4.0.0"]);

    let dry = gc_json(&world, &["--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        coordinates(&dry["removed"]),
        ["org.example:sleeper:1.0.0", "org.example:sleeper:4.0.0"]
    );
    assert!(dry["freed_bytes"].as_u64().expect("bytes") > 0);
    assert_eq!(installed(&world), ["1.0.0", "2.0.0", "3.0.0", "4.0.0"]);

    let done = gc_json(&world, &[]);
    assert_eq!(done["removed"], dry["removed"]);
    assert_eq!(
        done["kept"],
        serde_json::json!(["org.example:sleeper:2.0.0", "org.example:sleeper:3.0.0"])
    );
    assert_eq!(installed(&world), ["2.0.0", "3.0.0"]);

    // The kept deployment still rolls back, and nothing more is garbage.
    world
        .bale()
        .args(["rollback", "sleeper"])
        .assert()
        .success();
    assert_eq!(gc_json(&world, &[])["removed"], serde_json::json!([]));
    assert_eq!(installed(&world), ["2.0.0", "3.0.0"]);
    world.stop("sleeper");
}

#[test]
fn gc_refuses_to_run_beside_a_deploy() {
    let world = World::new();
    std::fs::create_dir_all(world.home()).expect("home");
    // A deploy holds the store lock shared for its whole run: so does this flock(1).
    let ready = world.dir.path().join("locked");
    // Its whole group goes when the test ends: flock forks the shell that holds the lock.
    let _holder = bale_testkit::ProcessGuard::spawn_group(
        std::process::Command::new("flock")
            .arg("--shared")
            .arg(world.home().join("pkgs.lock"))
            .args(["sh", "-c", "touch \"$0\"; exec sleep 600"])
            .arg(&ready),
        "flock",
    );
    deploy_fixture::wait_for("flock to hold the lock", || ready.exists());
    let out = world.bale().arg("gc").output().expect("bale gc");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a deploy is running"), "{stderr}");
}
