//! The runtime closure end to end: a C program built against a `-dev`
//! package with no `[dependencies] runtime` is built, deployed in its stack
//! and run there, over a root that has its runtime library and no compiler.
//!
//! Needs root, the cached debian-bookworm image (`BALE_TEST_STACK_CACHE`)
//! and the network to the Debian mirror. The home is kept between runs
//! (`BALE_TEST_CLOSURE_E2E_HOME`, default `/var/tmp/bale-closure-e2e-home`)
//! so its layers are made once.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

const APP: &str = "yamlver";

fn home() -> PathBuf {
    std::env::var_os("BALE_TEST_CLOSURE_E2E_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/bale-closure-e2e-home"))
}

fn bale() -> Command {
    crate::common::bale_with_home(&home())
}

/// The app removed at the end, whatever happened.
struct Deployed;

impl Drop for Deployed {
    fn drop(&mut self) {
        let _ = bale().args(["uninstall", APP]).output();
    }
}

const MANIFEST: &str = r#"[package]
group = "org.example"
name = "yamlver"
version = "1.0.0"

[stack]
name = "debian-bookworm"
kind = "c"

[dependencies]
build = ["libyaml-dev"]

[build]
main = ['mkdir -p "$BALE_PREFIX/bin"', 'cc -o "$BALE_PREFIX/bin/yamlver" yamlver.c -lyaml']

[test]
commands = ["yamlver"]

[run.commands]
yamlver = "yamlver"
# `bale app` appends the arguments ("$@"): `true` takes them.
compilers = "for f in /usr/bin/gcc /usr/bin/cc /usr/bin/x86_64-linux-gnu-gcc-12 /usr/include/yaml.h; do if test -e $f; then echo $f; fi; done; true"
"#;

const YAMLVER_C: &str = "#include <stdio.h>\n#include <yaml.h>\n\
    int main(void) { printf(\"libyaml %s\\n\", yaml_get_version_string()); return 0; }\n";

fn write(dir: &Path, path: &str, text: &str) {
    std::fs::write(dir.join(path), text).expect("write");
}

#[test]
fn a_program_built_against_a_dev_package_runs_after_deploy_over_no_compiler() {
    if !bale_testkit::require_stack_image("debian-bookworm") {
        return;
    }
    std::fs::create_dir_all(home()).expect("home");
    let config = format!(
        "image-cache = {:?}\n",
        bale_testkit::stack_cache().display().to_string()
    );
    std::fs::write(home().join("stacks.toml"), config).expect("stacks.toml");
    if !home().join("stacks/debian-bookworm/stack.json").is_file() {
        bale()
            .args(["stack", "create", "debian-bookworm"])
            .assert()
            .success();
    }
    // What an earlier run left: its app, and its package (which may differ
    // from this run's when the test changed), so one coordinate stays one set of bytes.
    let _ = bale().args(["uninstall", APP]).output();
    let installed = home().join("pkgs/org/example/yamlver");
    if installed.exists() {
        bale_fs::remove_read_only_tree(&installed).expect("remove the earlier package");
    }
    let work = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    write(&src, "bale.toml", MANIFEST);
    write(&src, "yamlver.c", YAMLVER_C);
    let out = work.path().join("out");

    let built = bale()
        .arg("build")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .output()
        .expect("run bale");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&built.stdout).expect("json");
    let package = PathBuf::from(printed["path"].as_str().expect("the package's path"));

    let _deployed = Deployed;
    bale()
        .args(["deploy", APP])
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .success();
    let ran = bale().args(["app", APP, "yamlver"]).output().expect("run");
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(
        String::from_utf8_lossy(&ran.stdout).starts_with("libyaml 0."),
        "{}",
        String::from_utf8_lossy(&ran.stdout)
    );
    let found = bale()
        .args(["app", APP, "compilers"])
        .output()
        .expect("run");
    assert!(
        found.status.success(),
        "{}",
        String::from_utf8_lossy(&found.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&found.stdout).trim(),
        "",
        "the app's root holds no compiler and no headers"
    );
}
