//! Zero-downtime deploys with the real binary: `bale deploy` leaves a
//! detached proxy on the kit's public port; a client looping requests on it
//! through a deploy and a rollback sees every request answered, first by
//! v1, then v2, then v1 again. With `switch = "stop-first"` the old version
//! is gone before the new one starts.

use crate::deploy_fixture;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use deploy_fixture::World;

/// The service: records which versions were running when it started, marks
/// itself running until SIGTERM, serves `app/` (where `version` is) over HTTP.
const SERVE: &str = r#"#!/bin/sh
version="${BALE_COORDINATE##*:}"
ls "$BALE_RUN" | grep '^running-' > "$BALE_RUN/seen-by-$version" || true
touch "$BALE_RUN/running-$version"
python3 -m http.server --bind 127.0.0.1 "$PORT" &
child=$!
trap 'rm -f "$BALE_RUN/running-$version"; kill $child; exit 0' TERM
wait $child
"#;

fn manifest(version: &str, port: u16, switch: &str) -> String {
    format!(
        r#"[package]
group = "org.example"
name = "web"
version = "{version}"

[stack]
name = "host"

[run]
workdir = "app"
[run.services]
web = "exec serve"

[kits.web]
ports = [{{ name = "http", port = {port} }}]
health = {{ http = "/version", timeout = "20s" }}
switch = "{switch}"
"#
    )
}

fn package(world: &World, version: &str, port: u16, switch: &str) -> PathBuf {
    let body = format!("{version}\n");
    world.package(
        &format!("{version}-{switch}"),
        &manifest(version, port, switch),
        &[("app/version", &body, false), ("bin/serve", SERVE, true)],
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// One `GET /version` on a new connection: the body, or why it failed.
fn get_version(port: u16) -> Result<String, String> {
    let mut stream =
        TcpStream::connect(("127.0.0.1", port)).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /version HTTP/1.0\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| format!("read: {e}"))?;
    if !answer.starts_with("HTTP/1.0 200") {
        return Err(format!("answer: {answer:?}"));
    }
    Ok(answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or("")
        .trim()
        .to_owned())
}

/// A client requesting `/version` in a loop until stopped.
struct LoopClient {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Result<String, String>>>,
}

impl LoopClient {
    fn start(port: u16) -> LoopClient {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    seen.push(get_version(port));
                }
                seen
            })
        };
        LoopClient { stop, thread }
    }

    /// Stops the loop; every answer in order.
    fn finish(self) -> Vec<Result<String, String>> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the client")
    }
}

/// The answers with repeats folded: `["1.0.0", "2.0.0", "1.0.0"]`.
fn phases(answers: &[Result<String, String>]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for answer in answers.iter().flatten() {
        if out.last() != Some(answer) {
            out.push(answer.clone());
        }
    }
    out
}

fn deploy(world: &World, package: &PathBuf) {
    world
        .bale()
        .args(["deploy", "web"])
        .arg(package)
        .arg("--allow-unsigned")
        .assert()
        .success();
}

fn seen_by(world: &World, version: &str) -> String {
    std::fs::read_to_string(world.run_dir("web").join(format!("seen-by-{version}")))
        .expect("the service recorded what ran when it started")
}

#[test]
fn a_client_looping_through_a_deploy_and_a_rollback_sees_no_failed_request() {
    let world = World::new();
    world.isolation_none();
    let port = free_port();
    let v1 = package(&world, "1.0.0", port, "overlap");
    let v2 = package(&world, "2.0.0", port, "overlap");
    deploy(&world, &v1);
    // `bale deploy` has exited: its proxy owns the public port.
    assert_eq!(get_version(port).as_deref(), Ok("1.0.0"));

    let client = LoopClient::start(port);
    std::thread::sleep(Duration::from_millis(300));
    deploy(&world, &v2);
    std::thread::sleep(Duration::from_millis(300));
    world.bale().args(["rollback", "web"]).assert().success();
    std::thread::sleep(Duration::from_millis(300));
    let answers = client.finish();

    let failed: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {failed:?}",
        failed.len(),
        answers.len()
    );
    assert_eq!(phases(&answers), ["1.0.0", "2.0.0", "1.0.0"]);
    // The new version started while the old one still ran, each time.
    assert_eq!(seen_by(&world, "2.0.0").trim(), "running-1.0.0");
    assert_eq!(seen_by(&world, "1.0.0").trim(), "running-2.0.0");
    // And the old one is gone now.
    let run = world.run_dir("web");
    assert!(run.join("running-1.0.0").exists());
    assert!(!run.join("running-2.0.0").exists());
    world.stop("web");
}

#[test]
fn stop_first_stops_the_old_version_before_the_new_one_starts_and_keeps_the_port() {
    let world = World::new();
    world.isolation_none();
    let port = free_port();
    let v1 = package(&world, "1.0.0", port, "stop-first");
    let v2 = package(&world, "2.0.0", port, "stop-first");
    deploy(&world, &v1);

    let client = LoopClient::start(port);
    std::thread::sleep(Duration::from_millis(300));
    deploy(&world, &v2);
    std::thread::sleep(Duration::from_millis(300));
    let answers = client.finish();

    // Nothing ran when v2 started, and v1 is gone.
    assert_eq!(seen_by(&world, "2.0.0").trim(), "");
    assert!(!world.run_dir("web").join("running-1.0.0").exists());
    // A connection during the gap waited for v2 instead of being refused.
    // Stop-first promises no more: a request v1 had already taken when it
    // was stopped may end unanswered (at most one: the client sends one at a time).
    let failed: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        failed.iter().all(|f| !f.starts_with("connect:")),
        "a connection was refused: {failed:?}"
    );
    assert!(failed.len() <= 1, "failed requests: {failed:?}");
    assert_eq!(
        phases(&answers),
        ["1.0.0", "2.0.0"],
        "{} answers, failed: {failed:?}",
        answers.len()
    );
    world.stop("web");
}

/// The nftables ruleset, or why it could not be listed.
fn ruleset() -> String {
    let out = std::process::Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .expect("nft runs");
    assert!(out.status.success(), "nft list ruleset: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the app's proxy last reported.
fn proxy_status(world: &World) -> serde_json::Value {
    let path = world.home().join("apps/web/proxy/status.json");
    std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The routes the kernel forwards, as `public->private`.
fn kernel_routes(world: &World) -> Vec<String> {
    proxy_status(world)["kernel"]
        .as_array()
        .map(|routes| {
            routes
                .iter()
                .map(|r| format!("{}->{}", r["public"], r["private"]))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn as_root_with_nftables_the_kernel_forwards_the_public_port_and_its_rules_go_with_the_app() {
    let nft = ["/usr/sbin/nft", "/sbin/nft"]
        .iter()
        .any(|p| std::path::Path::new(p).is_file());
    if !bale_testkit::require(
        bale_testkit::is_root() && nft,
        "needs root and nftables (apt-get install nftables)",
    ) {
        return;
    }
    let world = World::new();
    world.isolation_none();
    let port = free_port();
    let v1 = package(&world, "1.0.0", port, "overlap");
    let v2 = package(&world, "2.0.0", port, "overlap");
    deploy(&world, &v1);
    let private = world.private_port("web", port);
    let expected = vec![format!("{port}->{private}")];
    deploy_fixture::wait_for("the kernel to forward v1's port", || {
        kernel_routes(&world) == expected
    });
    assert!(
        ruleset().contains(&format!("tcp dport {port} redirect to :{private}")),
        "{}",
        ruleset()
    );
    assert_eq!(get_version(port).as_deref(), Ok("1.0.0"));

    // A restart takes the port back from the kernel while the service is
    // down: a client looping meanwhile waits in the proxy, none is refused.
    let client = LoopClient::start(port);
    std::thread::sleep(Duration::from_millis(200));
    world
        .bale()
        .args(["service", "web", "restart"])
        .assert()
        .success();
    deploy_fixture::wait_for("the kernel to forward again after the restart", || {
        kernel_routes(&world) == expected
    });
    let answers = client.finish();
    let failed: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        failed.iter().all(|f| !f.starts_with("connect:")),
        "a connection was refused during the restart: {failed:?}"
    );
    // A restart promises no more: the request the old process had taken may end unanswered.
    assert!(failed.len() <= 1, "failed requests: {failed:?}");

    // The switch moves the rule to v2's private port, in one transaction,
    // and a deploy fails no request.
    let client = LoopClient::start(port);
    std::thread::sleep(Duration::from_millis(200));
    deploy(&world, &v2);
    let private2 = world.private_port("web", port);
    assert_ne!(private, private2);
    deploy_fixture::wait_for("the kernel to forward v2's port", || {
        kernel_routes(&world) == vec![format!("{port}->{private2}")]
    });
    let answers = client.finish();
    let failed: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    assert_eq!(phases(&answers), ["1.0.0", "2.0.0"]);
    let rules = ruleset();
    assert!(rules.contains(&format!("tcp dport {port} redirect to :{private2}")));
    assert!(!rules.contains(&format!("redirect to :{private}\n")));

    // Uninstalling removes the app's table with its proxy.
    world.bale().args(["uninstall", "web"]).assert().success();
    assert!(
        !ruleset().contains(&format!("tcp dport {port} ")),
        "{}",
        ruleset()
    );
}
