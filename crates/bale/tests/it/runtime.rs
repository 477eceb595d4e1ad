//! Apps run in their stack: services, hooks and commands in a sandbox with
//! the package read-only at its prefix, the runtime directory writable at
//! /bale/run, the host's network and a PID namespace of their own; or on the
//! host with `isolation = "none"`. Needs root (the sandbox mounts an overlay)
//! and bubblewrap; the bookworm test also needs the cached stack image
//! (`BALE_TEST_STACK_CACHE`, default `/var/tmp/bale-stack-cache`).

use crate::deploy_fixture;

use std::path::PathBuf;

use deploy_fixture::{alive, http_get, wait_for, World};

/// A service that reports what it sees, then serves its package's `app/` over HTTP;
/// a worker that says so when it gets SIGTERM.
fn probe_manifest(stack: &str, port: u16, web: &str) -> String {
    format!(
        r#"[package]
group = "org.example"
name = "probe"
version = "1.0.0"

[stack]
name = "{stack}"

[hooks]
post-install = ["echo \"$BALE_RUN $BALE_PREFIX $(cat /proc/1/comm)\" > \"$BALE_RUN/hook\""]

[run]
workdir = "app"
[run.services]
web = "{web}"
worker = "trap 'echo term > \"$BALE_RUN/worker-stopped\"; exit 0' TERM; while :; do sleep 0.1; done"
[run.commands]
whereami = "echo \"$BALE_RUN $(cat /proc/1/comm) $PWD\""

[kits.web]
ports = [{{ name = "http", port = {port} }}]
health = {{ command = "test -e \"$BALE_RUN/ready\"", timeout = "30s" }}
"#
    )
}

/// The probe service: tries to write into its package, records its pid, then serves.
const PROBE: &str = "#!/bin/sh\n\
    if touch \"$BALE_PREFIX/intruder\" 2>\"$BALE_RUN/write-error\"; then echo wrote; else echo refused; fi > \"$BALE_RUN/package-write\"\n\
    echo $$ > \"$BALE_RUN/service-pid\"\n\
    echo \"$BALE_RUN $BALE_PREFIX\" > \"$BALE_RUN/paths\"\n\
    if test -e /work; then echo host; else echo image; fi > \"$BALE_RUN/root\"\n\
    touch \"$BALE_RUN/ready\"\n\
    exec \"$@\"\n";

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_owned()
}

/// The pid `bale service APP status --json` shows for `service`.
fn service_pid(world: &World, app: &str, service: &str) -> Option<i64> {
    let out = world
        .bale()
        .args(["service", app, "status", service, "--json"])
        .output()
        .expect("status");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    list[0]["pid"].as_i64()
}

fn can_sandbox() -> bool {
    bale_testkit::require(
        bale_testkit::is_root(),
        "needs root for the sandbox's overlay",
    )
}

#[test]
fn a_service_in_its_stack_cannot_write_its_package_but_writes_bale_run_in_its_own_pid_namespace() {
    if !can_sandbox() {
        return;
    }
    let world = World::new();
    let port = deploy_fixture_port();
    let web = "exec probe python3 -m http.server --bind 127.0.0.1 $PORT";
    let package = world.package(
        "probe",
        &probe_manifest("host", port, web),
        &[
            ("bin/probe", PROBE, true),
            ("app/hello", "hello from the package\n", false),
        ],
    );
    world
        .bale()
        .args(["deploy", "probe"])
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .success();
    let run = world.run_dir("probe");

    // The package is read-only, whoever the service runs as.
    assert_eq!(read(run.join("package-write")), "refused");
    let error = read(run.join("write-error"));
    assert!(
        error.contains("Read-only file system") || error.contains("Permission denied"),
        "{error}"
    );
    let prefix = "/bale/pkgs/org/example/probe/1.0.0";
    assert_eq!(read(run.join("paths")), format!("/bale/run {prefix}"));
    // Its own PID namespace: a small pid inside, a keeper with another pid outside.
    let inner: i64 = read(run.join("service-pid")).parse().expect("pid");
    let outer = service_pid(&world, "probe", "web").expect("web runs");
    assert!(
        inner < 10,
        "the service's pid {inner} is not from a namespace of its own"
    );
    assert_ne!(inner, outer);
    // The host's network: it answers on the host's loopback.
    // The health check passes just before the server listens.
    wait_for("the service to answer", || {
        http_get(port, "/hello").is_some()
    });
    assert_eq!(
        http_get(port, "/hello").as_deref(),
        Some("hello from the package")
    );
    // Hooks and commands run in the sandbox too.
    assert_eq!(read(run.join("hook")), format!("/bale/run {prefix} bwrap"));
    let out = world
        .bale()
        .args(["app", "probe", "whereami"])
        .output()
        .expect("app");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("/bale/run bwrap {prefix}/app")
    );

    // Stopping reaches the service inside with SIGTERM and leaves nothing behind.
    let worker = service_pid(&world, "probe", "worker").expect("worker runs");
    world
        .bale()
        .args(["service", "probe", "stop"])
        .assert()
        .success();
    assert_eq!(read(run.join("worker-stopped")), "term");
    assert!(!alive(outer) && !alive(worker), "a keeper outlived stop");
    // The public port stays the proxy's; the service's own port is closed.
    assert!(
        http_get(world.private_port("probe", port), "/hello").is_none(),
        "the service still answers"
    );
}

#[test]
fn with_isolation_none_services_run_on_the_host_from_the_installed_package() {
    let world = World::new();
    world.isolation_none();
    let port = deploy_fixture_port();
    let web = "exec probe python3 -m http.server --bind 127.0.0.1 $PORT";
    let package = world.package(
        "probe",
        &probe_manifest("host", port, web),
        &[
            ("bin/probe", PROBE, true),
            ("app/hello", "hello from the package\n", false),
        ],
    );
    world
        .bale()
        .args(["deploy", "probe"])
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .success();
    let run = world.run_dir("probe");

    let installed = world.home().join("pkgs/org/example/probe/1.0.0");
    assert_eq!(
        read(run.join("paths")),
        format!("{} {}", run.display(), installed.display())
    );
    let inner: i64 = read(run.join("service-pid")).parse().expect("pid");
    assert_eq!(
        Some(inner),
        service_pid(&world, "probe", "web"),
        "the service is not the host process bale tracks"
    );
    assert_eq!(read(run.join("root")), "host");
    // The health check passes just before the server listens.
    wait_for("the service to answer", || {
        http_get(port, "/hello").is_some()
    });
    assert_eq!(
        http_get(port, "/hello").as_deref(),
        Some("hello from the package")
    );
    world.stop("probe");
}

#[test]
fn a_service_on_debian_bookworm_sees_the_stack_image_as_its_root() {
    let Some(world) = bookworm_world() else {
        return;
    };
    let port = deploy_fixture_port();
    // The base image has no python: the service only reports and waits.
    let web = "exec probe sh -c 'while :; do sleep 1; done'";
    let package = world.package(
        "bookworm",
        &probe_manifest("debian-bookworm", port, web),
        &[("bin/probe", PROBE, true)],
    );
    world
        .bale()
        .args(["deploy", "probe"])
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .success();
    let run = world.run_dir("probe");

    assert_eq!(
        read(run.join("root")),
        "image",
        "the service saw the host's root"
    );
    assert_eq!(read(run.join("package-write")), "refused");
    let inner: i64 = read(run.join("service-pid")).parse().expect("pid");
    assert!(inner < 10, "pid {inner}");
    world
        .bale()
        .args(["service", "probe", "stop"])
        .assert()
        .success();
    wait_for("the worker's SIGTERM", || {
        run.join("worker-stopped").exists()
    });
}

#[test]
fn deploy_takes_the_dependency_layer_of_a_kind_from_the_admins_kinds_file() {
    let Some(world) = bookworm_world() else {
        return;
    };
    // A kind only this machine's admin defines, whose run-time package no
    // Debian name can be: deploy must read it to get that far.
    std::fs::write(
        world.home().join("kinds.toml"),
        "[probekind]\nruntime = [\"Not_A_Package\"]\n",
    )
    .expect("kinds");
    let port = deploy_fixture_port();
    let manifest = probe_manifest("debian-bookworm", port, "exec probe sleep 60").replace(
        "name = \"debian-bookworm\"",
        "name = \"debian-bookworm\"\nkind = \"probekind\"",
    );
    let package = world.package("kinded", &manifest, &[("bin/probe", PROBE, true)]);
    world
        .bale()
        .args(["deploy", "probe"])
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("Not_A_Package"));
}

/// A world with the debian-bookworm stack made from the cached image
/// (`BALE_TEST_STACK_CACHE`), or `None`, said, without root or that image.
fn bookworm_world() -> Option<World> {
    if !bale_testkit::require_stack_image("debian-bookworm") {
        return None;
    }
    let cache = bale_testkit::stack_cache();
    let world = World::new();
    let stacks = bale_stack::Stacks::load(&bale_home::Home::new(world.home()), None)
        .expect("stacks")
        .with_image_cache(&cache);
    stacks
        .create("debian-bookworm", None, &mut |_| {})
        .expect("the stack from the cache");
    Some(world)
}

fn deploy_fixture_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}
