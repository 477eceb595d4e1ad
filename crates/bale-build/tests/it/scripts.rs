//! The generated start.sh and stop.sh, run for real against real processes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

use bale_build::scripts::{start_sh, stop_sh, ServiceScript};
use bale_testkit::{free_port, group_members, http_get};

const COORDINATE: &str = "org.example:demo:1.0.0";

/// A package root with bin/, app/ and the generated scripts, and a run dir beside it.
struct Package {
    _dir: tempfile::TempDir,
    root: PathBuf,
    run: PathBuf,
}

impl Package {
    fn new(services: &[ServiceScript]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("pkg");
        let run = dir.path().join("run");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::create_dir_all(root.join("app")).unwrap();
        fs::create_dir_all(root.join("script.d")).unwrap();
        write_executable(
            &root.join("script.d/start.sh"),
            &start_sh(COORDINATE, services),
        );
        write_executable(
            &root.join("script.d/stop.sh"),
            &stop_sh(COORDINATE, services),
        );
        Self {
            _dir: dir,
            root,
            run,
        }
    }

    fn script(&self, script: &str, args: &[&str]) -> Output {
        Command::new(self.root.join("script.d").join(script))
            .arg(format!("--run={}", self.run.display()))
            .args(args)
            .env_remove("PORT")
            .output()
            .unwrap()
    }

    fn start(&self, args: &[&str]) -> Output {
        self.script("start.sh", args)
    }

    fn stop(&self, args: &[&str]) -> Output {
        self.script("stop.sh", args)
    }

    fn pid(&self, service: &str) -> Option<u32> {
        let text = fs::read_to_string(self.run.join("pid").join(format!("{service}.pid"))).ok()?;
        Some(text.trim().parse().unwrap())
    }
}

/// Stops whatever a test left running, even when it failed half-way.
impl Drop for Package {
    fn drop(&mut self) {
        if let Ok(entries) = fs::read_dir(self.run.join("pid")) {
            for entry in entries.flatten() {
                if let Some(pgid) = fs::read_to_string(entry.path())
                    .ok()
                    .and_then(|t| t.trim().parse::<u32>().ok())
                {
                    let _ = Command::new("kill")
                        .args(["-s", "KILL", "--", &format!("-{pgid}")])
                        .status();
                }
            }
        }
    }
}

fn write_executable(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn service(name: &str, command: &str) -> ServiceScript {
    ServiceScript {
        name: name.into(),
        command: command.into(),
        workdir: "app".into(),
        port: None,
        env: vec![],
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// Polls until `check` holds or a generous deadline passes; returns whether it held.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn the_same_services_give_the_same_script_bytes() {
    let services = vec![ServiceScript {
        port: Some(8080),
        env: vec![("A".into(), "b c".into())],
        ..service("web", "echo 'hi'")
    }];
    assert_eq!(
        start_sh(COORDINATE, &services),
        start_sh(COORDINATE, &services.clone())
    );
    assert_eq!(
        stop_sh(COORDINATE, &services),
        stop_sh(COORDINATE, &services.clone())
    );
}

#[test]
fn shellcheck_finds_nothing_in_the_scripts() {
    let installed = Command::new("shellcheck").arg("--version").output().is_ok();
    if !bale_testkit::require(
        installed,
        "shellcheck is not installed (Debian package `shellcheck`)",
    ) {
        return;
    }
    let services = [
        ServiceScript {
            port: Some(8080),
            env: vec![("GREETING".into(), "it's \"quoted\" $HOME".into())],
            ..service("web", "exec python3 -m http.server $PORT")
        },
        service("worker", "while :; do sleep 1; done"),
    ];
    for services in [&services[..], &[]] {
        let pkg = Package::new(services);
        for script in ["start.sh", "stop.sh"] {
            let out = Command::new("shellcheck")
                .args(["-s", "sh"])
                .arg(pkg.root.join("script.d").join(script))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{script} ({} services):\n{}",
                services.len(),
                text(&out.stdout)
            );
        }
    }
}

#[test]
fn a_web_service_starts_answers_and_stops_with_its_whole_process_group() {
    let port = free_port();
    let pkg = Package::new(&[ServiceScript {
        port: Some(port),
        ..service("web", "python3 -m http.server --bind 127.0.0.1 $PORT")
    }]);
    fs::write(pkg.root.join("app/hello.txt"), "hello from app\n").unwrap();

    assert_success(&pkg.start(&[]));
    let pgid = pkg.pid("web").expect("start.sh writes a pid file");
    assert!(
        !group_members(pgid).is_empty(),
        "the service's process group runs"
    );

    let mut response = None;
    assert!(eventually(|| {
        response = http_get(port, "/hello.txt");
        response.is_some()
    }));
    let response = response.unwrap();
    assert!(
        response.contains("hello from app"),
        "served from the workdir: {response}"
    );

    assert_success(&pkg.stop(&[]));
    assert_eq!(
        group_members(pgid),
        Vec::<u32>::new(),
        "nothing of the service's group is left"
    );
    assert!(pkg.pid("web").is_none(), "stop.sh removes the pid file");
    assert!(http_get(port, "/").is_none(), "nothing listens any more");
}

#[test]
fn a_service_that_ignores_sigterm_is_killed_after_the_timeout() {
    let pkg = Package::new(&[service("stubborn", "trap '' TERM; sleep 1000")]);
    assert_success(&pkg.start(&[]));
    let pgid = pkg.pid("stubborn").unwrap();
    assert!(!group_members(pgid).is_empty());

    let out = pkg.stop(&["--timeout=1"]);
    assert_success(&out);
    assert!(
        text(&out.stderr).contains("SIGKILL"),
        "stop.sh says it had to kill: {}",
        text(&out.stderr)
    );
    assert_eq!(group_members(pgid), Vec::<u32>::new());
}

#[test]
fn a_service_that_exits_at_once_fails_start_with_its_log() {
    let pkg = Package::new(&[service(
        "broken",
        "echo 'cannot open the database' >&2; exit 3",
    )]);
    let out = pkg.start(&[]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("broken exited at once (status 3)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot open the database"),
        "the last log lines are shown: {stderr}"
    );
    assert!(
        pkg.pid("broken").is_none(),
        "no pid file is left for a dead service"
    );
}

#[test]
fn starting_twice_does_not_start_a_second_copy() {
    let pkg = Package::new(&[service(
        "sleeper",
        "echo started >>\"$BALE_RUN/starts\"; exec sleep 1000",
    )]);
    assert_success(&pkg.start(&[]));
    let first = pkg.pid("sleeper").unwrap();
    let again = pkg.start(&[]);
    assert_success(&again);
    assert!(
        text(&again.stdout).contains("already running"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(pkg.pid("sleeper"), Some(first));
    assert_eq!(
        fs::read_to_string(pkg.run.join("starts")).unwrap(),
        "started\n",
        "the command ran once"
    );
    assert_success(&pkg.stop(&[]));
}

#[test]
fn an_unknown_service_is_an_error_listing_the_known_ones() {
    let pkg = Package::new(&[
        service("web", "sleep 1000"),
        service("worker", "sleep 1000"),
    ]);
    for script in ["start.sh", "stop.sh"] {
        let out = pkg.script(script, &["mailer"]);
        assert!(!out.status.success(), "{script}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("unknown service 'mailer'") && stderr.contains("web worker"),
            "{script}: {stderr}"
        );
    }
    assert!(
        pkg.pid("web").is_none() && pkg.pid("worker").is_none(),
        "nothing started"
    );
}

#[test]
fn one_named_service_starts_and_stops_alone() {
    let pkg = Package::new(&[
        service("web", "exec sleep 1000"),
        service("worker", "exec sleep 1000"),
    ]);
    assert_success(&pkg.start(&["worker"]));
    assert!(pkg.pid("web").is_none());
    let worker = pkg.pid("worker").unwrap();
    assert_success(&pkg.start(&[]));
    let web = pkg.pid("web").unwrap();
    assert_success(&pkg.stop(&["web"]));
    assert!(group_members(web).is_empty());
    assert!(
        !group_members(worker).is_empty(),
        "the other service keeps running"
    );
    assert_success(&pkg.stop(&[]));
    assert!(group_members(worker).is_empty());
}

#[test]
fn the_service_gets_the_run_env_file_defaults_and_bale_variables() {
    let pkg = Package::new(&[ServiceScript {
        port: Some(4321),
        env: vec![("FROM_DEFAULT".into(), "default value".into()), ("OVERRIDDEN".into(), "default".into())],
        ..service("env", "hello; env >\"$BALE_RUN/seen.tmp\"; pwd >>\"$BALE_RUN/seen.tmp\"; mv \"$BALE_RUN/seen.tmp\" \"$BALE_RUN/seen\"; exec sleep 1000")
    }]);
    write_executable(
        &pkg.root.join("bin/hello"),
        "#!/bin/sh\necho hello from bin\n",
    );
    fs::create_dir_all(&pkg.run).unwrap();
    fs::write(
        pkg.run.join("env"),
        "DATABASE_URL='postgres://db/x?a=1&b=2'\nOVERRIDDEN='from env file'\n",
    )
    .unwrap();

    assert_success(&pkg.start(&[]));
    let seen_path = pkg.run.join("seen");
    assert!(eventually(|| seen_path.exists()));
    let seen = fs::read_to_string(&seen_path).unwrap();
    let root = fs::canonicalize(&pkg.root).unwrap();
    let run = fs::canonicalize(&pkg.run).unwrap();
    for line in [
        "DATABASE_URL=postgres://db/x?a=1&b=2".to_owned(),
        "OVERRIDDEN=from env file".to_owned(),
        "FROM_DEFAULT=default value".to_owned(),
        "PORT=4321".to_owned(),
        format!("BALE_PREFIX={}", root.display()),
        format!("BALE_RUN={}", run.display()),
        format!("BALE_COORDINATE={COORDINATE}"),
        format!("PATH={}/bin:", root.display()),
        format!("{}/app", root.display()),
    ] {
        assert!(
            seen.lines().any(|l| l.starts_with(&line)),
            "missing {line} in:\n{seen}"
        );
    }
    let log = fs::read_to_string(pkg.run.join("log/env.log")).unwrap();
    assert!(
        log.contains("hello from bin"),
        "bin/ comes first on PATH and output goes to the log: {log}"
    );
    assert_success(&pkg.stop(&[]));
}

#[test]
fn stop_succeeds_when_nothing_runs() {
    let pkg = Package::new(&[service("web", "exec sleep 1000")]);
    assert_success(&pkg.stop(&[]));
    fs::create_dir_all(pkg.run.join("pid")).unwrap();
    fs::write(pkg.run.join("pid/web.pid"), "999999999\n").unwrap();
    assert_success(&pkg.stop(&[]));
    assert!(pkg.pid("web").is_none(), "a stale pid file is removed");
}
