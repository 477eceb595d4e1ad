//! Test support shared by the integration tests of bale's crates: the
//! helpers each test binary used to carry its own copy of.
//!
//! Only ever a `[dev-dependencies]` entry. It depends on no bale crate, so
//! any crate's tests can use it without a dependency cycle.

mod alpine;
mod apt;
mod browser;
mod child;
pub mod foreign;
mod git;
mod moto;
mod net;
mod postgres;
mod process;
mod require;
mod serve;
pub mod upstream;
mod wait;

pub use alpine::{alpine_root, in_root, require_alpine_root};
pub use browser::{chromium, dump_dom};
pub use child::{child_test, in_child_test, run_child_test};
pub use git::{git, GitRepo};
pub use moto::Moto;
pub use net::{free_port, http_get, wait_for_port};
pub use postgres::{database_url, postgres_server, unique_name};
pub use process::{group_members, processes_with, HostProcess, ProcessGuard};
pub use require::{in_ci, is_root, require, require_stack_image, stack_cache, stack_image_cached};
pub use serve::{BaleServe, Served};
pub use wait::{wait_until, Ready};

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::Duration;

    use super::*;

    #[test]
    fn wait_until_returns_the_probes_value_once_ready() {
        let mut calls = 0;
        let value = wait_until(Duration::from_secs(5), "the third call", || {
            calls += 1;
            (calls == 3).then_some(calls * 10)
        });
        assert_eq!(value, 30);
    }

    #[test]
    #[should_panic(expected = "waiting for a thing that never happens")]
    fn wait_until_names_what_it_waited_for_when_it_times_out() {
        wait_until(
            Duration::from_millis(100),
            "a thing that never happens",
            || false,
        );
    }

    #[test]
    fn a_missing_requirement_fails_the_test_under_ci_and_only_there() {
        for (ci, passes) in [("true", false), ("", true)] {
            let out = child_test("tests::a_test_whose_requirement_is_missing")
                .env("CI", ci)
                .output()
                .expect("running the test binary again");
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.success(), passes, "CI={ci}: {stdout}{stderr}");
            let said = format!("{stdout}{stderr}");
            assert!(
                said.contains("the machine lacks a thing"),
                "CI={ci}: {said}"
            );
        }
    }

    /// Started by the test above with and without `CI=true`.
    #[test]
    #[ignore = "started as a child process by a_missing_requirement_fails_the_test_under_ci_and_only_there"]
    fn a_test_whose_requirement_is_missing() {
        if !in_child_test() {
            return;
        }
        assert!(!require(false, "the machine lacks a thing"));
    }

    #[test]
    fn a_database_url_replaces_the_servers_database_name() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:55432/postgres", "t_1"),
            "postgres://postgres@127.0.0.1:55432/t_1"
        );
        assert_eq!(
            database_url("postgres://127.0.0.1:5432", "t_1"),
            "postgres://127.0.0.1:5432/t_1"
        );
        assert_ne!(unique_name("t"), unique_name("t"));
    }

    #[test]
    fn a_group_guard_kills_what_the_child_started() {
        let guard = ProcessGuard::spawn_group(
            Command::new("sh").args(["-c", "sleep 300 & sleep 300 & wait"]),
            "a shell with two sleeps",
        );
        let pgid = guard.id();
        wait_until(Duration::from_secs(10), "the sleeps to start", || {
            group_members(pgid).len() == 3
        });
        drop(guard);
        wait_until(Duration::from_secs(10), "the group to be gone", || {
            group_members(pgid).is_empty()
        });
    }

    #[test]
    fn a_repository_gets_commits_branches_and_tags_pushed_to_a_bare_remote() {
        let dir = std::env::temp_dir().join(unique_name("bale-testkit-git"));
        let work = GitRepo::init(dir.join("work"), "hello-1.0.0");
        let first = work.commit(&[("bale.toml", "[package]\n")], "first");
        work.branch("feature-x");
        work.tag("v1.0.0");
        let remote = GitRepo::bare(dir.join("remote.git"));
        let remote_path = remote.path().to_string_lossy().into_owned();
        work.push(&remote_path, &["hello-1.0.0", "feature-x", "v1.0.0"]);
        let refs = remote.git(&["for-each-ref", "--format=%(refname)"]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            refs.lines().collect::<Vec<_>>(),
            [
                "refs/heads/feature-x",
                "refs/heads/hello-1.0.0",
                "refs/tags/v1.0.0"
            ]
        );
        assert_eq!(first.len(), 40);
    }
}
