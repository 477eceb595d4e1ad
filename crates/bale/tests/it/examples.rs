//! Every example under `examples/` built for real on the debian-bookworm
//! stack with `bale build --check`: built twice in fresh sandboxes, the two
//! archives identical, the `[test]` commands passing.
//!
//! The builds share one BALE_HOME (`BALE_TEST_EXAMPLES_HOME`, default
//! `/var/tmp/bale-examples-home`), so the stack and the dependency layers
//! made by one run are reused by the next; its `stacks.toml` points at the
//! stack image cache the bale-stack tests fill too (`BALE_TEST_STACK_CACHE`,
//! default `/var/tmp/bale-stack-cache`). The first run needs root and the
//! network to the Debian mirror, PyPI, npm; without root the tests do not
//! run (creating a Debian stack needs root), a failure under CI=true.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;
use bale_testkit::{is_root, require, stack_cache};
use common::examples;

fn examples_home() -> PathBuf {
    std::env::var_os("BALE_TEST_EXAMPLES_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/bale-examples-home"))
}

/// The SHA-256 of a file, by coreutils' sha256sum.
pub(crate) fn sha256_of(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a hash")
        .to_string()
}

/// `bale` over the shared home.
pub(crate) fn bale() -> Command {
    crate::common::bale_with_home(&examples_home())
}

/// The shared home with a debian-bookworm stack in it, made once per test
/// binary; `None` (said, a failure under CI=true) without root.
pub(crate) fn bookworm() -> Option<&'static Path> {
    static READY: OnceLock<Option<PathBuf>> = OnceLock::new();
    READY
        .get_or_init(|| {
            if !require(
                is_root(),
                "building the examples on debian-bookworm needs root to create the stack",
            ) {
                return None;
            }
            let home = examples_home();
            std::fs::create_dir_all(&home).expect("mkdir the examples home");
            let config = format!("image-cache = {:?}\n", stack_cache().display().to_string());
            std::fs::write(home.join("stacks.toml"), config).expect("write stacks.toml");
            let list = bale()
                .args(["stack", "list", "--json"])
                .output()
                .expect("run bale");
            assert!(
                list.status.success(),
                "{}",
                String::from_utf8_lossy(&list.stderr)
            );
            let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
            let created = list
                .as_array()
                .expect("an array")
                .iter()
                .any(|s| s["name"] == "debian-bookworm" && s["state"] != "absent");
            if !created {
                let out = bale()
                    .args(["stack", "create", "debian-bookworm"])
                    .output()
                    .expect("run bale");
                assert!(
                    out.status.success(),
                    "stack create failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Some(home)
        })
        .as_deref()
}

/// The one package `<name>-<version>-<arch>.bale` a build wrote into `out`,
/// whatever its architecture (the machine's, or `all` without ELF files).
pub fn built(out: &std::path::Path, name: &str, version: &str) -> PathBuf {
    let prefix = format!("{name}-{version}-");
    let found: Vec<PathBuf> = std::fs::read_dir(out)
        .expect("the output directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.strip_prefix(&prefix)
                    .and_then(|rest| rest.strip_suffix(".bale"))
                    .is_some_and(|arch| arch == "all" || arch == bale_inspect::machine_arch())
            })
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one package {prefix}<arch>.bale in {}: {found:?}",
        out.display()
    );
    found[0].clone()
}

/// Builds `examples/<name>` with `--check` and checks what the build
/// left: the package, named in its facts with its hash, and a passed test
/// stage running every `[test]` command.
fn build_checked(name: &str, tests: usize) {
    if bookworm().is_none() {
        return;
    }
    let out = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let dir = examples().join(name);
    let run = bale()
        .arg("build")
        .arg(&dir)
        .arg("-o")
        .arg(out.path())
        .args(["--check", "--json"])
        .output()
        .expect("run bale");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "bale build --check {name} failed:\n{stderr}"
    );

    let printed: serde_json::Value = serde_json::from_slice(&run.stdout).expect("json on stdout");
    let package = built(out.path(), name, "1.0.0");
    assert_eq!(
        printed["path"].as_str().map(PathBuf::from),
        Some(package.clone())
    );
    assert!(package.is_file(), "the package exists");
    let sha = sha256_of(&package);
    assert!(
        stderr.contains(&format!("Reproduced sha256:{sha}")),
        "the second build gave the same bytes:\n{stderr}"
    );

    let facts_path = out.path().join(format!("{name}-1.0.0.build.json"));
    let facts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&facts_path).expect("build.json"))
            .expect("json");
    assert_eq!(
        facts["sha256"],
        sha.as_str(),
        "build.json names the package's hash"
    );
    assert_eq!(facts["stack"], "debian-bookworm");
    let steps = facts["steps"].as_array().expect("steps");
    let status = |step: &str| {
        steps
            .iter()
            .find(|s| s["name"] == step)
            .map(|s| s["status"].clone())
    };
    assert_eq!(
        status("test"),
        Some("ok".into()),
        "the test stage passed: {steps:?}"
    );
    assert_eq!(facts["tests"], tests, "every [test] command ran");
}

#[test]
fn hello_c_configure_and_make_on_bookworm_reproduces_and_passes_its_tests() {
    build_checked("hello-c", 2);
}

#[test]
fn flask_notes_pip_from_pypi_on_bookworm_reproduces_and_passes_its_tests() {
    build_checked("flask-notes", 3);
}

#[test]
fn node_hello_npm_ci_on_bookworm_reproduces_and_passes_its_tests() {
    build_checked("node-hello", 1);
}

#[test]
fn static_docs_on_bookworm_reproduces_and_passes_its_tests() {
    build_checked("static-docs", 2);
}

#[test]
fn rust_wc_cargo_install_on_bookworm_reproduces_and_passes_its_tests() {
    build_checked("rust-wc", 4);
}

#[test]
fn hello_web_on_bookworm_reproduces_and_passes_its_tests() {
    build_checked("hello-web", 1);
}

#[test]
fn ruby_hello_gems_from_debian_on_bookworm_reproduces_and_passes_its_tests() {
    build_checked("ruby-hello", 2);
}

#[test]
fn go_hello_go_build_on_bookworm_reproduces_and_passes_its_tests() {
    build_checked("go-hello", 2);
}
