//! Timeouts and resource limits hold for the whole process tree.

use crate::common;

use std::time::Duration;

use bale_sandbox::{LimitHit, Limits, SandboxError, SandboxSpec};
use bale_testkit::processes_with;
use common::{run, sandbox, sh, try_run};

#[test]
fn timeout_kills_the_whole_process_tree() {
    let marker = format!("4242.{}", std::process::id());
    let script = format!("sleep {marker} & sleep {marker} & (sleep {marker} &); sh -c 'sleep {marker}' & sleep {marker}");
    let mut spec = SandboxSpec::host(sh(&script));
    spec.timeout = Some(Duration::from_secs(1));
    let ran = run(&spec);
    assert!(ran.outcome.timed_out);
    assert!(!ran.outcome.success());
    let left = processes_with(&marker);
    assert!(left.is_empty(), "processes survived the timeout: {left:?}");
}

#[test]
fn a_run_within_its_timeout_is_not_marked_timed_out() {
    let mut spec = SandboxSpec::host(sh("exit 3"));
    spec.timeout = Some(Duration::from_secs(60));
    let ran = run(&spec);
    assert!(!ran.outcome.timed_out);
    assert_eq!(ran.outcome.status, 3);
}

/// Either the limits are available, or asking for them says the machine allows none.
fn limited(limits: Limits, script: &str) -> Option<common::Ran> {
    let mut spec = SandboxSpec::host(sh(script));
    spec.limits = limits;
    spec.timeout = Some(Duration::from_secs(120));
    match sandbox().limits_available() {
        Ok(()) => Some(run(&spec)),
        Err(_) => {
            let err = try_run(&spec).err().expect("limits were refused");
            assert!(matches!(err, SandboxError::LimitsUnavailable { .. }));
            assert!(
                err.to_string().contains("allows no resource limits"),
                "{err}"
            );
            eprintln!("this machine allows no limits: {err}");
            None
        }
    }
}

#[test]
fn fork_bomb_is_contained_by_the_pids_limit_and_reported() {
    // Exponential, but bounded at 2^12 processes should the limit ever fail.
    let bomb =
        "f() { if [ $1 -lt 11 ]; then f $(($1+1)) & f $(($1+1)) & wait; fi; }; f 0; echo finished";
    let Some(ran) = limited(
        Limits {
            pids: Some(32),
            memory_bytes: None,
            cpu_millis: None,
        },
        bomb,
    ) else {
        return;
    };
    assert_eq!(
        ran.outcome.limit_hit,
        Some(LimitHit::Pids),
        "{}",
        ran.stderr
    );
    assert!(!ran.outcome.timed_out);
}

#[test]
fn memory_hog_is_killed_by_the_memory_limit_and_reported() {
    // `tail -n 1` keeps the whole newline-free stream in memory.
    let hog = "head -c 400000000 /dev/zero | tail -n 1 | wc -c";
    let Some(ran) = limited(
        Limits {
            pids: None,
            memory_bytes: Some(64 << 20),
            cpu_millis: None,
        },
        hog,
    ) else {
        return;
    };
    assert_eq!(
        ran.outcome.limit_hit,
        Some(LimitHit::Memory),
        "{} {}",
        ran.stdout,
        ran.stderr
    );
}

#[test]
fn a_run_under_generous_limits_succeeds_and_reports_no_hit() {
    let Some(ran) = limited(
        Limits {
            pids: Some(256),
            memory_bytes: Some(512 << 20),
            cpu_millis: Some(500),
        },
        "echo ok",
    ) else {
        return;
    };
    assert!(ran.outcome.success(), "{}", ran.stderr);
    assert_eq!(ran.outcome.limit_hit, None);
    assert_eq!(ran.stdout, "ok\n");
}

#[test]
fn a_cpu_share_becomes_the_run_cgroups_quota() {
    // Where the machine allows no limits, the tests above check the refusal.
    if sandbox().limits_available().is_err() || !cpu_controller() {
        eprintln!("this machine gives bale no cpu controller");
        return;
    }
    let mut spec = SandboxSpec::host(sh("sleep 3"));
    spec.limits = Limits {
        cpu_millis: Some(500),
        ..Limits::default()
    };
    let running = std::thread::spawn(move || run(&spec));
    // The run's cgroup is `bale-<our pid>-<n>`; its quota is half of each 100 ms period.
    let prefix = format!("bale-{}-", std::process::id());
    let mut quota = None;
    bale_testkit::wait_until(Duration::from_secs(30), "the run's cpu cgroup", || {
        quota = run_cgroups(std::path::Path::new("/sys/fs/cgroup"), &prefix, 0)
            .into_iter()
            .find_map(|dir| {
                let v2 = std::fs::read_to_string(dir.join("cpu.max")).ok();
                let v1 = std::fs::read_to_string(dir.join("cpu.cfs_quota_us"))
                    .ok()
                    .map(|q| format!("{} 100000", q.trim()));
                v2.or(v1)
            });
        quota.is_some()
    });
    assert_eq!(quota.as_deref().map(str::trim), Some("50000 100000"));
    assert!(running.join().expect("the run").outcome.success());
}

/// Whether a cpu controller is mounted (v1) or offered (v2) at all.
fn cpu_controller() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cpu/cpu.cfs_period_us").exists()
        || std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "cpu"))
}

/// Directories below `dir` whose name starts with `prefix`.
fn run_cgroups(dir: &std::path::Path, prefix: &str, depth: u32) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            found.push(path);
        } else if depth < 4 {
            found.extend(run_cgroups(&path, prefix, depth + 1));
        }
    }
    found
}
