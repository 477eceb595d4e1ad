//! `bale system install-units` writes systemd units for `bale supervise`
//! and `bale serve` that `systemd-analyze verify` accepts.

use crate::deploy_fixture;

use deploy_fixture::World;

#[test]
fn the_installed_units_pass_systemd_analyze_verify() {
    let found = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !bale_testkit::require(found, "needs systemd-analyze (apt install systemd)") {
        return;
    }
    let world = World::new();
    let dir = world.dir.path().join("units");
    world
        .bale()
        .args(["system", "install-units", "--dir"])
        .arg(&dir)
        .assert()
        .success();
    let units = [
        dir.join("bale-supervise.service"),
        dir.join("bale-serve.service"),
    ];
    for unit in &units {
        let text = std::fs::read_to_string(unit).expect("unit");
        assert!(
            text.contains(&format!(
                "Environment=BALE_HOME={}\n",
                world.home().display()
            )),
            "{text}"
        );
    }
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(&units)
        .output()
        .expect("systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // A key systemd does not know is only a warning: there must be none.
    assert!(stderr.trim().is_empty(), "{stderr}");
}

#[test]
fn a_dry_run_prints_the_units_and_writes_nothing() {
    let world = World::new();
    let dir = world.dir.path().join("units");
    let out = world
        .bale()
        .args(["system", "install-units", "--dry-run", "--dir"])
        .arg(&dir)
        .output()
        .expect("bale system");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(" supervise\n"), "{stdout}");
    assert!(stdout.contains(" serve --no-supervise\n"), "{stdout}");
    assert!(!dir.exists());
}
