//! `--keep-failed MINUTES`: a failed build's environment stays under
//! `$BALE_HOME/failed` for a while, for someone to look into, and the
//! first build after its time removes it.

use crate::common;

use std::path::{Path, PathBuf};

use common::Scratch;

const FAILING: &str = "[package]\ngroup = \"org.example\"\nname = \"broken\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\n\n[build]\nmain = [\"echo half-done > half-done.txt\", \"exit 3\"]\n";

/// Every kept environment: `failed/<until>/<name>-<version>-<ms>`.
fn kept(home: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for until in std::fs::read_dir(home.join("failed"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for env in std::fs::read_dir(until.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            found.push(env.path());
        }
    }
    found
}

#[test]
fn a_failed_build_keeps_its_environment_when_asked() {
    let s = Scratch::new();
    s.write("broken/bale.toml", FAILING);
    let out = s
        .bale()
        .args(["build", "broken", "-o", "out", "--keep-failed", "30"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kept = kept(&s.home());
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        std::fs::read_to_string(kept[0].join("src/half-done.txt")).unwrap(),
        "half-done\n"
    );
    let log = std::fs::read_to_string(s.path().join("out/broken-1.0.0.build.log")).unwrap();
    assert!(
        log.contains(&format!("kept in {}", kept[0].display())),
        "the log says where: {log}"
    );
}

#[test]
fn without_the_flag_nothing_is_kept() {
    let s = Scratch::new();
    s.write("broken/bale.toml", FAILING);
    let out = s
        .bale()
        .args(["build", "broken", "-o", "out"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(kept(&s.home()).is_empty());
}

#[test]
fn the_next_build_after_its_time_removes_a_kept_environment() {
    let s = Scratch::new();
    s.write("broken/bale.toml", FAILING);
    // Zero minutes: kept now, expired for every later build.
    s.bale()
        .args(["build", "broken", "-o", "out", "--keep-failed", "0"])
        .output()
        .unwrap();
    assert_eq!(kept(&s.home()).len(), 1);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    s.bale()
        .args(["build", "broken", "-o", "out"])
        .output()
        .unwrap();
    assert!(kept(&s.home()).is_empty(), "{:?}", kept(&s.home()));
}
