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
    assert_eq!(phases(&answers), ["1.0.0", "2.0.0"]);
    world.stop("web");
}
