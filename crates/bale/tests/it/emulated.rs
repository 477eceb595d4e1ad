//! Builds for arm64 on this amd64 machine, under emulation (qemu-user-static
//! through binfmt_misc), from the command line and on the build service.
//!
//! The arm64 debian-bookworm image comes from the stack image cache
//! (`BALE_TEST_STACK_CACHE`, made there the first time); `bale build
//! --check` uses the shared examples home, so its dependency layers are kept
//! between runs. Needs root and an amd64 machine: anything else is a failure
//! under CI=true.

use std::process::Output;
use std::time::Duration;

use bale_testkit::{is_root, require, stack_cache, wait_until};
use serde_json::Value;

use crate::common::{examples, Scratch};
use crate::examples::{bale, bookworm, sha256_of};
use crate::service::{build_record, serve, token};

/// Whether this machine can run the tests: root, and amd64 (arm64 is the foreign one).
fn can_emulate() -> bool {
    require(is_root(), "building on a Debian stack needs root")
        && require(
            bale_inspect::machine_arch() == "amd64",
            "building for arm64 under emulation is tested on amd64 machines",
        )
}

/// Makes `debian-bookworm` for arm64 in the home `bale` acts on, from the image cache.
fn create_arm64_stack(mut bale: assert_cmd::Command) {
    let out = bale
        .args(["stack", "create", "debian-bookworm", "--arch", "arm64"])
        .output()
        .expect("run bale");
    assert!(
        out.status.success(),
        "stack create --arch arm64 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether the home `bale` acts on has an arm64 debian-bookworm image.
fn has_arm64_stack(mut bale: assert_cmd::Command) -> bool {
    let out = bale
        .args(["stack", "list", "--json"])
        .output()
        .expect("run bale");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).expect("json");
    list.as_array()
        .expect("an array")
        .iter()
        .any(|s| s["name"] == "debian-bookworm" && s["arch"] == "arm64" && s["state"] != "absent")
}

#[test]
fn build_check_for_arm64_reproduces_the_c_example_bit_for_bit() {
    if !can_emulate() || bookworm().is_none() {
        return;
    }
    if !has_arm64_stack(bale()) {
        create_arm64_stack(bale());
    }
    let out = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let run = bale()
        .arg("build")
        .arg(examples().join("hello-c"))
        .arg("-o")
        .arg(out.path())
        .args(["--arch", "arm64", "--check", "--json"])
        .output()
        .expect("run bale");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "bale build --arch arm64 --check:\n{stderr}"
    );
    let package = out.path().join("hello-c-1.0.0-arm64.bale");
    assert!(package.is_file(), "named for arm64:\n{stderr}");
    let sha = sha256_of(&package);
    assert!(
        stderr.contains(&format!("Reproduced sha256:{sha}")),
        "the second arm64 build gave the same bytes:\n{stderr}"
    );

    let inspect = bale()
        .arg("inspect")
        .arg(&package)
        .arg("--json")
        .output()
        .expect("inspect --json");
    let index: Value = serde_json::from_slice(&inspect.stdout).expect("JSON");
    assert_eq!(index["arch"], "arm64");
    let machines: Vec<&str> = index["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["elf"]["machine"].as_str())
        .collect();
    assert!(
        !machines.is_empty() && machines.iter().all(|m| *m == "arm64"),
        "every ELF file is arm64: {machines:?}"
    );
}

/// A project whose build records the machine it ran on, and whose test
/// checks it ran on aarch64.
fn machine_stamp(s: &Scratch, dir: &str, name: &str, stack: &str, expect: &str) {
    s.write(
        &format!("{dir}/bale.toml"),
        &format!(
            "[package]\ngroup = \"org.example\"\nname = \"{name}\"\nversion = \"1.0.0\"\n\n\
             [stack]\nname = \"{stack}\"\nkind = \"static\"\n\n\
             [build]\nmain = [\"mkdir -p $BALE_PREFIX/share\", \"uname -m > $BALE_PREFIX/share/machine\"]\n\n\
             [test]\ncommands = [\"test \\\"$(uname -m)\\\" = {expect}\"]\n"
        ),
    );
}

/// `bale submit DIR --arch ARCH` (not waiting); the build's id.
fn submit(s: &Scratch, url: &str, token: &str, dir: &str, arch: &str) -> i64 {
    let out: Output = s
        .bale()
        .args(["submit", dir, "--arch", arch])
        .env("BALE_REPO", url)
        .env("BALE_TOKEN", token)
        .output()
        .expect("run bale submit");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no build id: {}", String::from_utf8_lossy(&out.stdout)))
}

/// Waits until build `id` has ended; its record.
fn ended(url: &str, id: i64, timeout: Duration) -> Value {
    wait_until(timeout, &format!("build {id} to end"), || {
        let build = build_record(url, id);
        (!matches!(build["status"].as_str(), Some("queued" | "running"))).then_some(build)
    })
}

#[test]
fn a_worker_claims_an_arm64_build_once_it_has_the_arm64_stack_and_builds_it_there() {
    if !can_emulate() {
        return;
    }
    let s = Scratch::new();
    std::fs::create_dir_all(s.home()).expect("home");
    s.write(
        "home/stacks.toml",
        &format!("image-cache = {:?}\n", stack_cache().display().to_string()),
    );
    machine_stamp(&s, "arm", "on-arm64", "debian-bookworm", "aarch64");
    machine_stamp(&s, "native", "on-host", "host", "x86_64");
    let token = token(&s, "build", None);
    let (_server, url) = serve(&s, &["--workers", "1", "--allow-unsigned"], &[]);

    // Queued first, but the worker has no arm64 stack: it takes the later
    // build for its own architecture and leaves the arm64 one queued.
    let arm = submit(&s, &url, &token, "arm", "arm64");
    let native = submit(&s, &url, &token, "native", "amd64");
    let build = ended(&url, native, Duration::from_secs(120));
    assert_eq!(build["status"], "succeeded", "{build}");
    let waiting = build_record(&url, arm);
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert_eq!(waiting["arch"], "arm64");

    // With the stack made, the worker claims it and builds in it.
    create_arm64_stack(s.bale());
    let build = ended(&url, arm, Duration::from_secs(900));
    assert_eq!(build["status"], "succeeded", "{build}");
    assert_eq!(build["arch"], "arm64");
    assert_eq!(build["stack"], "debian-bookworm");
    let list = s
        .bale()
        .args(["stack", "list", "--json"])
        .output()
        .expect("stack list");
    let list: Value = serde_json::from_slice(&list.stdout).expect("json");
    let arm64_digest = list
        .as_array()
        .expect("an array")
        .iter()
        .find(|s| s["name"] == "debian-bookworm" && s["arch"] == "arm64")
        .and_then(|s| s["digest"].as_str())
        .expect("the arm64 image's digest")
        .to_owned();
    assert_eq!(
        build["stack_digest"], arm64_digest,
        "the record names the arm64 image it was built in"
    );
    // Published; it holds no ELF file, so it is `all`.
    assert_eq!(build["coordinate"], "org.example:on-arm64:1.0.0");
    let fetched = s.path().join("fetched");
    s.bale()
        .args(["fetch", "org.example:on-arm64:1.0.0", "--repo", &url, "-o"])
        .arg(&fetched)
        .assert()
        .success();
    assert!(fetched.join("on-arm64-1.0.0-all.bale").is_file());
}
