//! Builds on the `host` stack: the steps, the sandbox's isolation, the
//! test stage, and what a failure reports.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bale_build::{BuildError, BuildEvent, BuildRequest, Builder, Built};
use bale_manifest::{Catalog, Manifest, ParseOptions};
use bale_stack::{StackImage, HOST_DIGEST};
use bale_testkit::git;
use tempfile::TempDir;

/// A source tree with a bale.toml on the host stack, and somewhere to build it.
pub(crate) struct Project {
    dir: TempDir,
}

impl Project {
    pub(crate) fn new(manifest_tail: &str) -> Self {
        Self::new_in(&std::env::temp_dir(), manifest_tail)
    }

    fn new_in(parent: &Path, manifest_tail: &str) -> Self {
        let dir = tempfile::tempdir_in(parent).expect("tempdir");
        let p = Project { dir };
        p.write(
            "bale.toml",
            &format!(
                "[package]\ngroup = \"org.example\"\nname = \"fixture\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\n\n{manifest_tail}"
            ),
        );
        p
    }

    fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    pub(crate) fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub(crate) fn write(&self, rel: &str, text: &str) {
        let path = self.src().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn manifest(&self) -> Manifest {
        let catalog = Catalog::default();
        Manifest::from_path(
            &self.src().join("bale.toml"),
            &catalog,
            &ParseOptions::default(),
        )
        .unwrap_or_else(|d| panic!("bad manifest: {}", d.render(false)))
        .resolved(&catalog.kinds)
    }

    /// The BALE_HOME of this project's builds (hidden from them).
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Builds, returning the result and every output line as (step, line).
    pub(crate) fn build(&self) -> (Result<Built, BuildError>, Vec<(String, String)>) {
        let manifest = self.manifest();
        let stack = StackImage {
            name: "host".into(),
            arch: bale_stack::machine_arch().into(),
            root: PathBuf::from("/"),
            digest: HOST_DIGEST.into(),
            identity: HOST_DIGEST.into(),
        };
        let home = self.home();
        let out = self.out();
        let scratch = home.join("tmp");
        let cache = home.join("cache");
        let request = BuildRequest {
            source_dir: &self.src(),
            manifest: &manifest,
            stack: &stack,
            layers_dir: None,
            out_dir: &out,
            scratch_dir: &scratch,
            cache_dir: &cache,
            hide: vec![home.clone()],
            fresh: false,
            verbose: false,
            arch: None,
        };
        let lines = Mutex::new(Vec::new());
        let mut events = |e: BuildEvent<'_>| {
            if let BuildEvent::Output { step, line } = e {
                lines
                    .lock()
                    .expect("lock")
                    .push((step.to_string(), line.to_string()));
            }
        };
        let result = Builder::new()
            .expect("sandbox")
            .build(&request, &mut events);
        (result, lines.into_inner().expect("lock"))
    }
}

pub(crate) fn said(lines: &[(String, String)], step: &str, text: &str) -> bool {
    lines.iter().any(|(s, l)| s == step && l.contains(text))
}

const HELLO: &str = r#"[build]
main = [
  "mkdir -p $BALE_PREFIX/bin",
  "printf '#!/bin/sh\necho hello from the package\n' > $BALE_PREFIX/bin/hello",
  "chmod +x $BALE_PREFIX/bin/hello",
  "echo prefix=$BALE_PREFIX src=$BALE_SRC cache=$BALE_CACHE name=$BALE_NAME pwd=$(pwd) greeting=$GREETING",
]
env = { GREETING = "hi" }
destinations = ["site"]

[test]
commands = ["hello", "test -f app/site/index.html", "echo test-in=$(pwd)"]
"#;

#[test]
fn a_build_on_the_host_stack_packs_the_prefix_and_the_destinations_and_runs_the_tests() {
    let p = Project::new(HELLO);
    p.write("site/index.html", "<h1>hi</h1>\n");
    let (result, lines) = p.build();
    let built = result.unwrap_or_else(|e| panic!("build failed: {e}"));
    assert_eq!(built.package.path, p.out().join("fixture-1.0.0-all.bale"));
    assert!(built.package.path.is_file());
    let paths: Vec<&str> = built
        .package
        .written
        .index
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert!(paths.contains(&"bin/hello"), "{paths:?}");
    assert!(paths.contains(&"app/site/index.html"), "{paths:?}");
    assert!(
        said(&lines, "main", "prefix=/bale/pkgs/org/example/fixture/1.0.0 src=/bale/src cache=/bale/cache name=fixture pwd=/bale/src greeting=hi"),
        "{lines:?}"
    );
    assert!(
        said(&lines, "test", "hello from the package"),
        "the test ran the package's bin/ from PATH: {lines:?}"
    );
    assert!(
        said(
            &lines,
            "test",
            "test-in=/bale/pkgs/org/example/fixture/1.0.0"
        ),
        "{lines:?}"
    );
}

#[test]
fn build_json_records_each_step_with_its_timing_and_the_stack() {
    let p = Project::new(HELLO);
    p.write("site/index.html", "x\n");
    let built = p.build().0.unwrap_or_else(|e| panic!("build failed: {e}"));
    assert_eq!(built.facts_path, p.out().join("fixture-1.0.0.build.json"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&built.facts_path).expect("read")).expect("json");
    let steps: Vec<(&str, &str)> = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            assert!(s["duration_ms"].is_u64() && s["started_at"].is_u64(), "{s}");
            (
                s["name"].as_str().expect("name"),
                s["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("stack", "ok"),
            ("dependencies", "skipped"),
            ("source", "ok"),
            ("before", "skipped"),
            ("main", "ok"),
            ("after", "skipped"),
            ("finalize", "skipped"),
            ("collect", "ok"),
            ("pack", "ok"),
            ("runtime-layer", "skipped"),
            ("test", "ok"),
        ]
    );
    assert_eq!(json["stack_digest"], "host");
    assert_eq!(json["tests"], 3);
    assert_eq!(json["sha256"], built.package.written.sha256.as_str());
    let log = std::fs::read_to_string(json["log"].as_str().expect("log")).expect("the log exists");
    assert!(log.contains("[test] hello from the package"), "{log}");
}

#[test]
fn a_failing_action_names_the_step_the_command_its_exit_code_and_the_last_thirty_lines() {
    let p = Project::new("[build]\nbefore = [\"echo ready\"]\nmain = [\"echo first\", \"seq 1 50; exit 3\", \"echo never\"]\n");
    let (result, lines) = p.build();
    match result {
        Err(BuildError::StepFailed {
            step,
            command,
            status,
            last_lines,
            log,
            ..
        }) => {
            assert_eq!(step, "main");
            assert_eq!(command, "seq 1 50; exit 3");
            assert_eq!(status, 3);
            let tail: Vec<&str> = last_lines.lines().collect();
            assert_eq!(tail.len(), 30);
            assert_eq!(tail.first(), Some(&"21"));
            assert_eq!(tail.last(), Some(&"50"));
            assert!(log.is_file());
        }
        other => panic!("expected a failed step, got {other:?}"),
    }
    assert!(
        !said(&lines, "main", "never"),
        "the step stops at its first failure"
    );
    assert!(!p.out().join("fixture-1.0.0-all.bale").exists());
}

#[test]
fn the_error_message_shows_step_command_and_exit_code() {
    let p = Project::new("[build]\nmain = [\"echo boom >&2; exit 7\"]\n");
    let err = p.build().0.expect_err("the build fails");
    let text = err.to_string();
    assert!(
        text.contains("step `main` failed: `echo boom >&2; exit 7` exited with 7"),
        "{text}"
    );
    assert!(text.contains("boom"), "{text}");
}

#[test]
fn a_failing_test_fails_the_build_and_leaves_no_package() {
    let p = Project::new("[build]\nmain = [\"mkdir -p $BALE_PREFIX/bin\"]\n\n[test]\ncommands = [\"test -x bin/missing\"]\n");
    let err = p.build().0.expect_err("the test fails");
    match err {
        BuildError::StepFailed { step, command, .. } => {
            assert_eq!(step, "test");
            assert_eq!(command, "test -x bin/missing");
        }
        other => panic!("expected a failed test, got {other:?}"),
    }
    assert!(!p.out().join("fixture-1.0.0-all.bale").exists());
}

/// The names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_failed_build_writes_only_its_log_and_leaves_an_earlier_package_and_facts_alone() {
    let p = Project::new(
        "[build]\ndestinations = [\"flag\"]\n\n[test]\ncommands = [\"grep -qx yes app/flag\"]\n",
    );
    p.write("flag", "no\n");
    p.build().0.expect_err("the test fails");
    assert_eq!(
        listing(&p.out()),
        ["fixture-1.0.0.build.log"],
        "a failed build leaves only its log"
    );

    p.write("flag", "yes\n");
    let built = p.build().0.unwrap_or_else(|e| panic!("build failed: {e}"));
    let package = std::fs::read(&built.package.path).expect("the package");
    let facts = std::fs::read(&built.facts_path).expect("the facts");

    p.write("flag", "no\n");
    p.build().0.expect_err("the test fails again");
    assert_eq!(
        listing(&p.out()),
        [
            "fixture-1.0.0-all.bale",
            "fixture-1.0.0.build.json",
            "fixture-1.0.0.build.log"
        ]
    );
    assert!(
        std::fs::read(&built.package.path).expect("the package") == package,
        "the earlier package is untouched"
    );
    assert_eq!(
        std::fs::read(&built.facts_path).expect("the facts"),
        facts,
        "the earlier facts are untouched"
    );
    let log = std::fs::read_to_string(p.out().join("fixture-1.0.0.build.log")).expect("the log");
    assert!(
        log.contains("==> test FAILED"),
        "the log is the failed build's: {log}"
    );
}

#[test]
fn the_package_is_read_only_during_its_tests() {
    let p = Project::new("[build]\nmain = [\"mkdir -p $BALE_PREFIX/etc\"]\n\n[test]\ncommands = [\"touch etc/written\"]\n");
    let err = p.build().0.expect_err("writing into the package fails");
    assert!(
        matches!(err, BuildError::StepFailed { ref step, .. } if step == "test"),
        "{err}"
    );
}

#[test]
fn a_build_does_not_see_what_a_previous_build_wrote_outside_its_binds() {
    let first = Project::new("[build]\nmain = [\"echo leaked > /tmp/bale-build-leak\", \"mkdir -p /root && echo leaked > /root/bale-build-leak || true\"]\n");
    first
        .build()
        .0
        .unwrap_or_else(|e| panic!("first build failed: {e}"));
    assert!(
        !Path::new("/root/bale-build-leak").exists(),
        "the host's root stays untouched"
    );
    let second = Project::new("[build]\nmain = [\"test ! -e /tmp/bale-build-leak\", \"test ! -e /root/bale-build-leak\"]\n");
    second
        .build()
        .0
        .unwrap_or_else(|e| panic!("the second build saw the first one's files: {e}"));
}

/// A command that exits 0 only when it can connect to 127.0.0.1:`port`.
fn connect(port: u16) -> String {
    format!("bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}'")
}

#[test]
fn actions_have_no_network_by_default() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let p = Project::new(&format!(
        "[build]\nmain = [\"if {}; then echo reached; exit 1; fi\"]\n",
        connect(port)
    ));
    let (result, lines) = p.build();
    result.unwrap_or_else(|e| panic!("the connection should have failed: {e}"));
    assert!(!said(&lines, "main", "reached"));
}

#[test]
fn actions_reach_the_network_when_the_manifest_turns_it_on() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let p = Project::new(&format!(
        "[build]\nnetwork = true\nmain = [\"{}\"]\n",
        connect(port)
    ));
    p.build()
        .0
        .unwrap_or_else(|e| panic!("the connection should have worked: {e}"));
}

#[test]
fn a_destination_that_matches_nothing_fails_naming_the_glob() {
    let p = Project::new("[build]\ndestinations = [\"dist/*.js\"]\n");
    let err = p.build().0.expect_err("nothing to collect");
    assert!(
        matches!(err, BuildError::Destination { ref pattern, .. } if pattern == "dist/*.js"),
        "{err}"
    );
}

#[test]
fn a_git_work_tree_gives_only_its_tracked_files_and_its_commit_time() {
    let p = Project::new("[build]\nmain = [\"ls -A\", \"echo epoch=$SOURCE_DATE_EPOCH\"]\n");
    p.write("tracked.txt", "yes\n");
    git(&p.src(), &["init", "-q"]);
    git(&p.src(), &["add", "bale.toml", "tracked.txt"]);
    git(&p.src(), &["commit", "-q", "-m", "first"]);
    p.write("untracked-secret.txt", "no\n");
    let commit = git(&p.src(), &["rev-parse", "HEAD"]);
    let (result, lines) = p.build();
    let built = result.unwrap_or_else(|e| panic!("build failed: {e}"));
    assert!(said(&lines, "main", "tracked.txt"), "{lines:?}");
    assert!(!said(&lines, "main", "untracked-secret.txt"), "{lines:?}");
    assert!(!said(&lines, "main", ".git"), "{lines:?}");
    assert!(said(&lines, "main", "epoch=1700000000"), "{lines:?}");
    assert_eq!(built.facts.commit.as_deref(), Some(commit.as_str()));
    assert_eq!(
        built.package.written.index.source.commit.as_deref(),
        Some(commit.as_str())
    );
}

#[test]
fn cache_directories_survive_from_one_build_to_the_next() {
    let p = Project::new("[build]\ncache = [\"/var/cache/fixture\"]\nmain = [\"cat /var/cache/fixture/count || true\", \"echo kept > /var/cache/fixture/count\"]\n");
    let (first, lines) = p.build();
    first.unwrap_or_else(|e| panic!("first build failed: {e}"));
    assert!(!said(&lines, "main", "kept"));
    let (second, lines) = p.build();
    second.unwrap_or_else(|e| panic!("second build failed: {e}"));
    assert!(said(&lines, "main", "kept"), "{lines:?}");
}

#[test]
fn a_build_past_its_timeout_is_killed_and_says_so() {
    let p = Project::new("[build]\ntimeout = \"1s\"\nmain = [\"echo started\", \"sleep 60\"]\n");
    match p.build().0 {
        Err(BuildError::StepFailed {
            step,
            command,
            reason,
            ..
        }) => {
            assert_eq!(step, "main");
            assert_eq!(command, "sleep 60");
            assert!(reason.contains("timed out"), "{reason}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn bale_home_and_its_keys_are_out_of_sight_on_the_host_stack() {
    // Not under /tmp, which every sandbox has as its own empty tmpfs anyway.
    let p = Project::new_in(Path::new("/var/tmp"), "");
    let key = p.home().join("keys/default.key");
    std::fs::create_dir_all(key.parent().expect("parent")).expect("mkdir");
    std::fs::write(&key, "secret").expect("write");
    std::fs::write(
        p.src().join("bale.toml"),
        format!(
            "[package]\ngroup = \"org.example\"\nname = \"fixture\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\n\n[build]\nmain = [\"test ! -e {}\"]\n",
            key.display()
        ),
    )
    .expect("write");
    p.build()
        .0
        .unwrap_or_else(|e| panic!("the build saw the secret key: {e}"));
}
