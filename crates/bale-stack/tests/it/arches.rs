//! Stacks per architecture and the debian-trixie stack, against real
//! debootstrap images.
//!
//! An arm64 image is made on this machine through qemu-user-static and
//! binfmt_misc (scripts/test installs them), then kept in the image cache
//! (`BALE_TEST_STACK_CACHE`, default `/var/tmp/bale-stack-cache`) as
//! `debian-bookworm@arm64`, beside `debian-bookworm` and `debian-trixie`, so
//! later runs (and the bale-build tests) copy it from there. Needs root, and
//! the network to a Debian mirror the first time.

use std::fs;

use bale_home::Home;
use bale_stack::{machine_arch, StackError, StackState, Stacks};
use bale_testkit::{is_root, require, stack_cache};

/// Runs `script` with `sh -c` in a sandbox over `root`, returning its output.
fn run_in(root: &std::path::Path, script: &str) -> String {
    let sandbox = bale_sandbox::Sandbox::new().unwrap();
    let spec = bale_sandbox::SandboxSpec::new(
        vec![root.to_path_buf()],
        vec!["/bin/sh".into(), "-c".into(), script.into()],
    );
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let ran = sandbox.run(&spec, &mut out, &mut err).unwrap();
    assert!(ran.success(), "{}", String::from_utf8_lossy(&err));
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn an_arm64_stack_is_made_under_emulation_beside_the_machines_own() {
    if !require(
        is_root() && machine_arch() == "amd64",
        "making an arm64 stack under emulation needs root on an amd64 machine",
    ) {
        return;
    }
    let home_dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let home = Home::new(home_dir.path());
    let stacks = Stacks::load(&home, None)
        .unwrap()
        .with_image_cache(stack_cache())
        .with_arch("arm64")
        .unwrap();
    let name = "debian-bookworm";
    let image = stacks
        .create(name, None, &mut |line| eprintln!("{line}"))
        .unwrap();
    // amd64 keeps the unsuffixed directory; arm64 gets its own.
    assert_eq!(
        image.root,
        home_dir.path().join("stacks/debian-bookworm@arm64/image")
    );
    assert_eq!(image.arch, "arm64");
    let record = stacks.record(name).unwrap();
    assert_eq!(record.arch(), "arm64");
    assert!(
        record.packages.iter().any(|p| p.starts_with("apt=")),
        "{:?}",
        record.packages
    );

    // Its programs are arm64 ones, run by the emulator inside the sandbox.
    let out = run_in(&image.root, "uname -m; dpkg --print-architecture");
    assert_eq!(out, "aarch64\narm64\n");

    // The machine's own image of the same stack is another one: not created here.
    let native = Stacks::load(&home, None).unwrap();
    assert!(matches!(
        native.image(name),
        Err(StackError::NotCreated { arch: None, .. })
    ));
    let listed = native.list().unwrap();
    let arm64 = listed
        .iter()
        .find(|s| s.name == name && s.arch == "arm64")
        .unwrap_or_else(|| panic!("{listed:?}"));
    assert_eq!(arm64.state, StackState::Created);
    assert_eq!(arm64.digest.as_deref(), Some(image.digest.as_str()));
    let amd64 = listed
        .iter()
        .find(|s| s.name == name && s.arch == "amd64")
        .unwrap_or_else(|| panic!("{listed:?}"));
    assert_eq!(amd64.state, StackState::Absent);

    // Warm, cold, sanitize and rm act on the arm64 image only.
    let layer = stacks.layers_dir(name).join("some-layer");
    assert!(layer.starts_with(home_dir.path().join("stacks/debian-bookworm@arm64")));
    fs::create_dir_all(&layer).unwrap();
    stacks.start(name).unwrap();
    stacks.stop(name).unwrap();
    assert!(!layer.exists());
    fs::write(image.root.join("etc/debian_version"), "tampered\n").unwrap();
    let report = stacks.sanitize(name, &mut |_| {}).unwrap();
    assert!(report.rebuilt, "{:?}", report.differences);
    assert_eq!(report.digest, image.digest);
    stacks.rm(name).unwrap();
    assert!(!home_dir
        .path()
        .join("stacks/debian-bookworm@arm64")
        .exists());
}

#[test]
fn the_trixie_stack_is_debian_13() {
    if !require(
        is_root(),
        "creating a Debian stack needs root (debootstrap)",
    ) {
        return;
    }
    let home_dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let stacks = Stacks::load(&Home::new(home_dir.path()), None)
        .unwrap()
        .with_image_cache(stack_cache());
    let image = stacks
        .create("debian-trixie", None, &mut |line| eprintln!("{line}"))
        .unwrap();
    let record = stacks.record("debian-trixie").unwrap();
    assert_eq!(record.suite, "trixie");
    let out = run_in(&image.root, "cat /etc/debian_version");
    assert!(out.starts_with("13"), "{out}");
}

#[test]
fn an_unknown_architecture_is_refused_naming_the_known_ones() {
    let home_dir = tempfile::tempdir().unwrap();
    let stacks = Stacks::load(&Home::new(home_dir.path()), None).unwrap();
    let err = stacks.with_arch("vax").unwrap_err().to_string();
    assert!(err.contains("arm64") && err.contains("riscv64"), "{err}");
}

#[test]
fn the_host_stack_is_only_the_machines_architecture() {
    let home_dir = tempfile::tempdir().unwrap();
    let other = if machine_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let stacks = Stacks::load(&Home::new(home_dir.path()), None)
        .unwrap()
        .with_arch(other)
        .unwrap();
    let err = stacks.image("host").unwrap_err().to_string();
    assert!(err.contains("--arch"), "{err}");
}

#[test]
fn an_uncreated_arm64_stack_says_to_create_it_with_its_arch() {
    let home_dir = tempfile::tempdir().unwrap();
    let stacks = Stacks::load(&Home::new(home_dir.path()), None)
        .unwrap()
        .with_arch("arm64")
        .unwrap();
    let err = stacks.image("debian-bookworm").unwrap_err().to_string();
    assert!(
        err.contains("bale stack create debian-bookworm --arch arm64"),
        "{err}"
    );
}
