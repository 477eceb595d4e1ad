//! A `bale worker` killed with SIGKILL mid-build leaves its build
//! directories behind; the next worker that starts on the machine removes
//! them (found by `benches/soak-service.sh`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use bale_testkit::{processes_with, wait_until};

use crate::common::Scratch;
use crate::service::{build_record, serve, sleeper, spawn, token};

/// Every directory under `dir`, at any depth.
fn dirs_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(dirs_under(&path));
            found.push(path);
        }
    }
    found
}

#[test]
fn a_worker_killed_mid_build_leaves_no_build_directory_once_another_worker_has_started() {
    let s = Scratch::new();
    let marker = "3.4711";
    sleeper(&s, "slow", "1.0.0", marker, false);
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
    let database = format!("sqlite://{}", s.home().join("bale.db").display());
    let storage = s.home().join("repo").display().to_string();
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
                "2",
                "--name",
                name,
            ],
            &[],
        )
    };
    let service_dir = s.home().join("tmp/service");

    let mut killed = worker("worker-a");
    // This scratch's own `bale build` (the marker alone may be another run's).
    let scratch = s.path().display().to_string();
    wait_until(Duration::from_secs(60), "worker-a's build to sleep", || {
        let building = processes_with(&scratch)
            .iter()
            .any(|p| p.cmdline.contains(" build "));
        (building && !processes_with(marker).is_empty()).then_some(())
    });
    killed.child().kill().unwrap();
    killed.child().wait().unwrap();
    let left = dirs_under(&service_dir);
    assert!(
        left.iter().any(|d| d
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("build-{id}-"))),
        "the killed worker's build directory is there until another worker starts: {left:?}"
    );

    let mut next = worker("worker-b");
    // worker-b finishes the build; the sleep marker is left for the killed one's leftovers.
    let build = wait_until(Duration::from_secs(120), "the build to end", || {
        let build = build_record(&url, id);
        matches!(build["status"].as_str(), Some("succeeded" | "failed")).then_some(build)
    });
    assert_eq!(build["status"], "succeeded", "{build}");
    let stray: Vec<PathBuf> = left.into_iter().filter(|d| d.exists()).collect();
    assert_eq!(
        stray,
        Vec::<PathBuf>::new(),
        "the killed worker's build directories were removed by the next worker"
    );

    // A worker that stops cleanly removes its own.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &next.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    wait_until(Duration::from_secs(30), "worker-b to exit", || {
        next.child().try_wait().unwrap()
    });
    assert_eq!(dirs_under(&service_dir), Vec::<PathBuf>::new());
}
