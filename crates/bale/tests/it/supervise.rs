//! `bale supervise` restarts a service that exits, with growing delays,
//! records the restarts for `bale service status`, leaves a service stopped
//! by hand down, and stops on SIGTERM.

use crate::deploy_fixture;

use std::process::Stdio;

use deploy_fixture::{wait_for, World};

const FLAKY: &str = r#"[package]
group = "org.example"
name = "flaky"
version = "1.0.0"

[stack]
name = "host"

[run.services]
flaky = "echo $$ >> \"$BALE_RUN/starts\"; sleep 0.5; exit 3"
"#;

fn starts(world: &World) -> Vec<String> {
    std::fs::read_to_string(world.run_dir("flaky").join("starts"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn status(world: &World) -> serde_json::Value {
    let out = world
        .bale()
        .args(["service", "flaky", "status", "--json"])
        .output()
        .expect("status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    list[0].clone()
}

#[test]
fn a_service_that_exits_is_restarted_with_growing_delays_and_sigterm_stops_the_supervisor() {
    let world = World::new();
    world.isolation_none();
    let package = world.package("flaky", FLAKY, &[]);
    world
        .bale()
        .args(["deploy", "flaky"])
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .success();

    let supervisor = std::process::Command::new(assert_cmd::cargo::cargo_bin("bale"))
        .args([
            "supervise",
            "--first-delay-ms",
            "100",
            "--max-delay-ms",
            "400",
        ])
        .env("BALE_HOME", world.home())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bale supervise");
    wait_for("five starts", || starts(&world).len() >= 5);

    let pids = starts(&world);
    let mut distinct = pids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        pids.len(),
        "a restart did not make a new process: {pids:?}"
    );
    let record = status(&world);
    assert!(
        record["restarts"].as_u64().expect("restarts") >= 4,
        "{record}"
    );
    let delays: Vec<u64> = record["backoff_ms"]
        .as_array()
        .expect("delays")
        .iter()
        .map(|d| d.as_u64().expect("ms"))
        .collect();
    assert!(delays.len() >= 4, "{delays:?}");
    assert!(
        delays.windows(2).all(|w| w[0] <= w[1]),
        "the delays shrank: {delays:?}"
    );
    assert!(
        delays[0] < delays[delays.len() - 1],
        "the delays did not grow: {delays:?}"
    );
    assert!(
        delays.iter().all(|&d| d <= 400),
        "a delay passed the cap: {delays:?}"
    );

    // A service stopped by hand stays down.
    world
        .bale()
        .args(["service", "flaky", "stop"])
        .assert()
        .success();
    let count = starts(&world).len();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        starts(&world).len(),
        count,
        "the supervisor restarted a service stopped by hand"
    );
    assert_eq!(status(&world)["state"], "stopped");

    rustix_free_kill(supervisor.id());
    let mut supervisor = supervisor;
    let exit = supervisor.wait().expect("wait");
    assert!(
        exit.success(),
        "bale supervise did not stop cleanly on SIGTERM: {exit}"
    );
}

/// Sends SIGTERM with kill(1).
fn rustix_free_kill(pid: u32) {
    let sent = std::process::Command::new("kill")
        .args(["-s", "TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

#[test]
fn bale_serve_also_restarts_a_service_that_exits() {
    let world = World::new();
    world.isolation_none();
    let package = world.package("flaky", FLAKY, &[]);
    world
        .bale()
        .args(["deploy", "flaky"])
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .success();
    let before = starts(&world).len();

    let listen = format!(
        "127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let mut server = std::process::Command::new(assert_cmd::cargo::cargo_bin("bale"))
        .args(["serve", "--workers", "0", "--listen", &listen])
        .env("BALE_HOME", world.home())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bale serve");
    wait_for("a restart by bale serve", || {
        starts(&world).len() >= before + 2
    });
    assert!(status(&world)["restarts"].as_u64().expect("restarts") >= 1);
    let _ = server.kill();
    let _ = server.wait();
}
