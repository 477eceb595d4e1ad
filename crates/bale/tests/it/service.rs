//! The build service end to end with the real binary: `bale serve` with
//! local workers (SQLite, local storage), and `bale serve` + two `bale
//! worker`s over PostgreSQL and S3 (moto), one of them killed mid-build.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bale_testkit::{processes_with, wait_until, Moto, ProcessGuard, Served};
use common::{bale_exe, copy_tree, examples, free_port, get_json, Scratch};
use serde_json::Value;

/// `bale ARGS` with this scratch's home, as a background process.
pub(crate) fn spawn(s: &Scratch, args: &[&str], envs: &[(&str, &str)]) -> ProcessGuard {
    let log =
        std::fs::File::create(s.path().join(format!("{}-{}.log", args[0], free_port()))).unwrap();
    let child = Command::new(bale_exe())
        .args(args)
        .envs(envs.iter().copied())
        .env("BALE_HOME", s.home())
        .env("NO_COLOR", "1")
        .current_dir(s.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    ProcessGuard::new(child)
}

pub(crate) fn build_record(server: &str, id: i64) -> Value {
    get_json(&format!("{server}/api/v1/builds/{id}")).expect("the build record")
}

/// Whether `pid` is `ancestor` or one of its descendants (by /proc parent links).
fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    while pid > 1 {
        if pid == ancestor {
            return true;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // The fields after the command name (which may hold spaces) start after the last ')'.
        let Some(ppid) = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
        else {
            return false;
        };
        pid = ppid;
    }
    false
}

/// A project on the host stack whose main step sleeps `secs` (the marker) and ships one file.
pub(crate) fn sleeper(
    s: &Scratch,
    dir: &str,
    version: &str,
    secs: &str,
    background: bool,
) -> PathBuf {
    let main = if background {
        format!("\"mkdir -p $BALE_PREFIX/share\", \"echo {version} > $BALE_PREFIX/share/v\", \"sleep {secs} & sleep {secs}; wait\"")
    } else {
        format!("\"mkdir -p $BALE_PREFIX/share\", \"echo {version} > $BALE_PREFIX/share/v\", \"sleep {secs}\"")
    };
    s.write(
        &format!("{dir}/bale.toml"),
        &format!(
            "[package]\ngroup = \"org.example\"\nname = \"sleeper\"\nversion = \"{version}\"\n\n[stack]\nname = \"host\"\nkind = \"static\"\n\n[build]\nmain = [{main}]\n"
        ),
    );
    s.path().join(dir)
}

/// A token of `scope` in the scratch's default database.
pub(crate) fn token(s: &Scratch, scope: &str, database: Option<&str>) -> String {
    let mut cmd = s.bale();
    cmd.args(["token", "create", "--scope", scope]);
    if let Some(db) = database {
        cmd.args(["--database", db]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `bale serve` on a free port with local workers; returns it and its URL.
pub(crate) fn serve(s: &Scratch, extra: &[&str], envs: &[(&str, &str)]) -> (Served, String) {
    let port = free_port();
    let mut serve = s
        .serve()
        .port(port)
        // The tests submit directories of this machine.
        .args(["--allow-local-sources"])
        .args(extra)
        .log(s.path().join(format!("serve-{port}.log")));
    for (key, value) in envs {
        serve = serve.env(key, value);
    }
    let server = serve.start();
    let url = server.url.clone();
    (server, url)
}

#[test]
fn a_submitted_build_succeeds_and_its_signed_package_is_published_and_fetchable() {
    let s = Scratch::new();
    let dir = s.path().join("static-docs");
    copy_tree(&examples().join("static-docs"), &dir);
    let manifest = std::fs::read_to_string(dir.join("bale.toml")).unwrap();
    std::fs::write(
        dir.join("bale.toml"),
        manifest.replace("name = \"debian-bookworm\"", "name = \"host\""),
    )
    .unwrap();
    s.bale().args(["key", "generate"]).assert().success();
    let token = token(&s, "build", None);
    let (_server, url) = serve(&s, &["--workers", "1"], &[]);

    let out = s
        .bale()
        .args(["submit", "static-docs", "--wait"])
        .env("BALE_REPO", &url)
        .env("BALE_TOKEN", &token)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let id: i64 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        stderr.contains("published org.example:static-docs:1.0.0"),
        "the log was followed: {stderr}"
    );

    let build = build_record(&url, id);
    assert_eq!(build["status"], "succeeded");
    assert_eq!(build["coordinate"], "org.example:static-docs:1.0.0");
    assert_eq!(build["stack"], "host");
    assert!(build["installed_size"].as_i64().unwrap() > 0);
    let steps: Vec<&str> = build["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"pack") && steps.contains(&"test"),
        "{steps:?}"
    );

    // Published, signed, fetchable, and its files searchable.
    let out_dir = s.path().join("fetched");
    s.bale()
        .args([
            "fetch",
            "org.example:static-docs:1.0.0",
            "--repo",
            &url,
            "-o",
        ])
        .arg(&out_dir)
        .assert()
        .success();
    assert!(out_dir.join("static-docs-1.0.0-all.bale").is_file());
    assert!(
        out_dir.join("static-docs-1.0.0-all.bale.minisig").is_file(),
        "signed by the service's key"
    );
    let hits = get_json(&format!("{url}/api/v1/search?file=app/site/index.html")).unwrap();
    assert_eq!(
        hits["packages"][0]["coordinate"],
        "org.example:static-docs:1.0.0"
    );
    let query = s
        .bale()
        .args([
            "query",
            "--file",
            "app/site/index.html",
            "--repo",
            &url,
            "--json",
        ])
        .output()
        .unwrap();
    let query: Value = serde_json::from_slice(&query.stdout).unwrap();
    assert_eq!(query[0]["coordinate"], "org.example:static-docs:1.0.0");

    // The stored log and the listing.
    let log = s
        .bale()
        .args(["logs", "--build", &id.to_string()])
        .env("BALE_REPO", &url)
        .output()
        .unwrap();
    assert!(log.status.success());
    assert!(String::from_utf8_lossy(&log.stdout).contains("build 1 succeeded"));
    let listed = s
        .bale()
        .args(["builds", "--package", "static-docs", "--json"])
        .env("BALE_REPO", &url)
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["id"], id);
    let metrics = Command::new("curl")
        .args(["-sf", &format!("{url}/metrics")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&metrics.stdout).contains("bale_builds{status=\"succeeded\"} 1")
    );
}

#[test]
fn a_failing_build_exits_one_with_its_reason_and_keeps_its_log() {
    let s = Scratch::new();
    s.write(
        "broken/bale.toml",
        "[package]\ngroup = \"org.example\"\nname = \"broken\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\n\n[build]\nmain = [\"echo the reason >&2; exit 4\"]\n",
    );
    s.bale().args(["key", "generate"]).assert().success();
    let token = token(&s, "build", None);
    let (_server, url) = serve(&s, &["--workers", "1", "--keep-failed", "30"], &[]);
    let out = s
        .bale()
        .args(["submit", "broken", "--wait"])
        .env("BALE_REPO", &url)
        .env("BALE_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("build 1 failed") && stderr.contains("exited with 4"),
        "{stderr}"
    );
    let build = build_record(&url, 1);
    assert_eq!(build["status"], "failed");
    assert!(build["error"].as_str().unwrap().contains("exited with 4"));
    let failed_step = build["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "failed");
    assert_eq!(
        failed_step.map(|s| s["name"].clone()),
        Some("main".into()),
        "{build}"
    );
    let log = s
        .bale()
        .args(["logs", "--build", "1"])
        .env("BALE_REPO", &url)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&log.stdout).contains("the reason"));
    // --keep-failed: the environment stays under $BALE_HOME/failed/<until>/.
    let kept: Vec<_> = std::fs::read_dir(s.home().join("failed"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .collect();
    assert_eq!(kept.len(), 1, "one environment kept");
    assert!(kept[0].path().join("src/bale.toml").is_file());
}

#[test]
fn a_build_past_its_time_limit_is_recorded_as_timed_out() {
    let s = Scratch::new();
    s.write(
        "slow/bale.toml",
        "[package]\ngroup = \"org.example\"\nname = \"slow\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\n\n[build]\ntimeout = \"1s\"\nmain = [\"sleep 60\"]\n",
    );
    s.bale().args(["key", "generate"]).assert().success();
    let token = token(&s, "build", None);
    let (_server, url) = serve(&s, &["--workers", "1"], &[]);
    let out = s
        .bale()
        .args(["submit", "slow", "--wait"])
        .env("BALE_REPO", &url)
        .env("BALE_TOKEN", &token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("build 1 timed-out"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let build = build_record(&url, 1);
    assert_eq!(build["status"], "timed-out");
    let timed: Value = get_json(&format!("{url}/api/v1/builds?status=timed-out")).unwrap();
    assert_eq!(timed["builds"][0]["id"], 1);
}

#[test]
fn cancel_kills_the_whole_build_process_tree_and_marks_it_canceled() {
    let s = Scratch::new();
    let marker = "7391.25";
    sleeper(&s, "slow", "1.0.0", marker, true);
    s.bale().args(["key", "generate"]).assert().success();
    let token = token(&s, "build", None);
    let (_server, url) = serve(&s, &["--workers", "1"], &[]);
    let out = s
        .bale()
        .args(["submit", "slow"])
        .env("BALE_REPO", &url)
        .env("BALE_TOKEN", &token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    // Both sleeps (one in the background) run inside the sandbox.
    wait_until(Duration::from_secs(60), "the build's processes", || {
        (processes_with(marker).len() >= 2).then_some(())
    });
    assert_eq!(build_record(&url, id.parse().unwrap())["status"], "running");
    s.bale()
        .args(["cancel", &id])
        .env("BALE_REPO", &url)
        .env("BALE_TOKEN", &token)
        .assert()
        .success();
    let build = wait_until(Duration::from_secs(30), "the canceled status", || {
        let build = build_record(&url, id.parse().unwrap());
        (build["status"] == "canceled").then_some(build)
    });
    assert_eq!(build["error"], "canceled by request");
    wait_until(Duration::from_secs(10), "no process of the build", || {
        processes_with(marker).is_empty().then_some(())
    });
    let log = s
        .bale()
        .args(["logs", "--build", &id])
        .env("BALE_REPO", &url)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&log.stdout).contains("cancel requested"));
    // A canceled build cannot be canceled again.
    s.bale()
        .args(["cancel", &id])
        .env("BALE_REPO", &url)
        .env("BALE_TOKEN", &token)
        .assert()
        .code(1);
}

#[test]
fn a_worker_stopped_by_sigterm_kills_its_build_and_puts_it_back_in_the_queue_at_once() {
    let s = Scratch::new();
    let marker = "5183.75";
    sleeper(&s, "slow", "1.0.0", marker, true);
    s.bale().args(["key", "generate"]).assert().success();
    let token = token(&s, "build", None);
    let (_server, url) = serve(&s, &["--workers", "0"], &[]);
    let out = s
        .bale()
        .args(["submit", "slow"])
        .env("BALE_REPO", &url)
        .env("BALE_TOKEN", &token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: i64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // A lease far longer than the test: only the release can requeue the build.
    let database = format!("sqlite://{}", s.home().join("bale.db").display());
    let storage = s.home().join("repo").display().to_string();
    let mut worker = spawn(
        &s,
        &[
            "worker",
            "--allow-local-sources",
            "--database",
            &database,
            "--storage",
            &storage,
            "--concurrency",
            "1",
            "--lease-secs",
            "600",
            "--name",
            "worker-a",
        ],
        &[],
    );
    wait_until(Duration::from_secs(60), "the build's processes", || {
        (processes_with(marker).len() >= 2).then_some(())
    });
    assert_eq!(build_record(&url, id)["status"], "running");

    let term = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exited = wait_until(Duration::from_secs(30), "the worker to exit", || {
        worker.child().try_wait().unwrap()
    });
    assert!(exited.success(), "the worker exited with {exited}");
    assert!(
        processes_with(marker).is_empty(),
        "the build's processes outlived the worker"
    );
    let build = build_record(&url, id);
    assert_eq!(build["status"], "queued", "{build}");
    let attempts = build["attempts"].as_array().unwrap();
    assert_eq!(
        (
            attempts[0]["worker"].as_str(),
            attempts[0]["outcome"].as_str()
        ),
        (Some("worker-a"), Some("lost")),
        "{build}"
    );
    let log = s
        .bale()
        .args(["logs", "--build", &id.to_string()])
        .env("BALE_REPO", &url)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&log.stdout).contains("the worker is stopping"),
        "{}",
        String::from_utf8_lossy(&log.stdout)
    );
}

/// A moto S3 server with one bucket, or `None` outside CI when moto is missing.
fn moto() -> Option<(Moto, String)> {
    let moto = Moto::start()?;
    moto.create_bucket("bale-service");
    let endpoint = moto.endpoint.clone();
    Some((moto, endpoint))
}

/// A fresh PostgreSQL database, or `None` outside CI when none is configured.
fn postgres() -> Option<String> {
    let url = bale_testkit::postgres_server()?;
    let name = bale_testkit::unique_name("bale_service");
    let out = Command::new("psql")
        .args([url.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "creating the database: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bale_testkit::database_url(&url, &name))
}

#[test]
fn two_workers_on_postgres_and_s3_finish_every_build_when_one_is_killed_mid_build() {
    let Some(database) = postgres() else { return };
    let Some((_moto, endpoint)) = moto() else {
        return;
    };
    let s = Scratch::new();
    let storage = format!("s3://bale-service?endpoint={endpoint}&region=us-east-1");
    let aws = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    s.bale().args(["key", "generate"]).assert().success();
    let token = token(&s, "build", Some(&database));
    let (_server, url) = serve(
        &s,
        &[
            "--workers",
            "0",
            "--database",
            &database,
            "--storage",
            &storage,
        ],
        &aws,
    );
    let marker = "3.0917";
    let ids: Vec<i64> = (1..=3)
        .map(|n| {
            let dir = sleeper(&s, &format!("p{n}"), &format!("1.0.{n}"), marker, false);
            let out = s
                .bale()
                .arg("submit")
                .arg(&dir)
                .env("BALE_REPO", &url)
                .env("BALE_TOKEN", &token)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        })
        .collect();
    let worker = |name: &str| {
        spawn(
            &s,
            &[
                "worker",
                "--allow-local-sources",
                "--database",
                &database,
                "--storage",
                &storage,
                "--concurrency",
                "1",
                "--lease-secs",
                "3",
                "--name",
                name,
            ],
            &aws,
        )
    };
    let mut a = worker("worker-a");
    let _b = worker("worker-b");

    // Kill worker-a while it is in the middle of a build.
    let victim = wait_until(Duration::from_secs(60), "worker-a building", || {
        ids.iter().copied().find(|id| {
            let build = build_record(&url, *id);
            build["status"] == "running" && build["worker"] == "worker-a"
        })
    });
    // Its build's processes, named before the kill: after it they belong to
    // init, and worker-b's builds sleep with the same marker.
    let a_pid = a.id();
    let victims: Vec<u32> = wait_until(Duration::from_secs(30), "worker-a's sleep", || {
        let pids: Vec<u32> = processes_with(marker)
            .into_iter()
            .filter(|p| descends_from(p.pid, a_pid))
            .map(|p| p.pid)
            .collect();
        (!pids.is_empty()).then_some(pids)
    });
    a.child().kill().unwrap();
    a.child().wait().unwrap();
    // They die with it (a zombie not yet reaped counts as dead).
    wait_until(
        Duration::from_secs(10),
        "worker-a's processes to die",
        || {
            let alive = victims.iter().filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .map(|stat| {
                        let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
                        state != Some(Some('Z'))
                    })
                    .unwrap_or(false)
            });
            (alive.count() == 0).then_some(())
        },
    );

    for id in &ids {
        let build = wait_until(Duration::from_secs(120), "every build to succeed", || {
            let build = build_record(&url, *id);
            build["status"]
                .as_str()
                .is_some_and(|s| s != "queued" && s != "running")
                .then_some(build)
        });
        assert_eq!(build["status"], "succeeded", "{build}");
        let attempts = build["attempts"].as_array().unwrap();
        for pair in attempts.windows(2) {
            assert!(
                pair[0]["finished_at"].as_i64().unwrap() <= pair[1]["started_at"].as_i64().unwrap(),
                "two attempts of build {id} overlapped: {attempts:?}"
            );
        }
        let coordinate = build["coordinate"].as_str().unwrap().to_owned();
        let version = coordinate.rsplit(':').next().unwrap();
        let fetched = s.path().join(format!("fetched-{id}"));
        s.bale()
            .args(["fetch", &coordinate, "--repo", &url, "-o"])
            .arg(&fetched)
            .assert()
            .success();
        assert!(fetched
            .join(format!("sleeper-{version}-all.bale"))
            .is_file());
    }
    let victim = build_record(&url, victim);
    let attempts = victim["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{victim}");
    assert_eq!(
        (
            attempts[0]["worker"].as_str(),
            attempts[0]["outcome"].as_str()
        ),
        (Some("worker-a"), Some("lost"))
    );
    assert_eq!(
        (
            attempts[1]["worker"].as_str(),
            attempts[1]["outcome"].as_str()
        ),
        (Some("worker-b"), Some("succeeded"))
    );
    // The log was stored in S3 and tells both attempts.
    let log = Command::new("curl")
        .args(["-sf", &format!("{url}/api/v1/builds/{}/log", victim["id"])])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(
        log.contains("worker worker-a") && log.contains("worker worker-b"),
        "{log}"
    );
    assert!(Path::new(&s.home()).is_dir());
}
