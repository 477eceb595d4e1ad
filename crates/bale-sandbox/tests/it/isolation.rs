//! What a sandbox can and cannot see of the host.

use crate::common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use bale_sandbox::{Bind, SandboxSpec, Upper};
use common::{is_root, run, sh, try_run};

#[test]
fn sandbox_sees_only_its_own_processes() {
    let marker = format!("31337.{}", std::process::id());
    let mut host_sleep = Command::new("sleep").arg(&marker).spawn().unwrap();
    let ran = run(&SandboxSpec::host(sh(
        "cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo; ls -d /proc/[0-9]* | wc -l",
    )));
    host_sleep.kill().unwrap();
    host_sleep.wait().unwrap();
    assert!(ran.outcome.success(), "{}", ran.stderr);
    assert!(
        !ran.stdout.contains(&marker),
        "a host process is visible: {}",
        ran.stdout
    );
    let count: usize = ran.stdout.lines().last().unwrap().trim().parse().unwrap();
    // bwrap's init, the shell, cat or ls and wc.
    assert!(
        count <= 4,
        "expected only the sandbox's processes, saw {count}: {}",
        ran.stdout
    );
}

#[test]
fn file_written_to_usr_is_absent_in_the_next_run() {
    let marker = format!("/usr/bale-sandbox-marker-{}", std::process::id());
    let first = run(&SandboxSpec::host(sh(&format!(
        "echo written > {marker} && cat {marker}"
    ))));
    if is_root() {
        assert!(first.outcome.success(), "{}", first.stderr);
        assert_eq!(first.stdout.trim(), "written");
    } else {
        // An ordinary user's host root is read-only (see the crate docs).
        assert!(!first.outcome.success());
    }
    let second = run(&SandboxSpec::host(sh(&format!("test ! -e {marker}"))));
    assert!(
        second.outcome.success(),
        "the file survived into the next run"
    );
    assert!(
        !PathBuf::from(&marker).exists(),
        "the write reached the host"
    );
}

#[test]
fn file_written_to_the_root_is_absent_in_the_next_run_over_the_same_layer() {
    // The host's /usr as a small root of its own: /bin/sh is /usr/bin/sh.
    let layers = vec![PathBuf::from("/usr")];
    let first = run(&SandboxSpec::new(
        layers.clone(),
        sh("echo written > /marker && cat /marker && ls /"),
    ));
    assert!(first.outcome.success(), "{}", first.stderr);
    assert!(first.stdout.starts_with("written"));
    let second = run(&SandboxSpec::new(
        layers,
        sh("test ! -e /marker && test -x /bin/sh"),
    ));
    assert!(
        second.outcome.success(),
        "{}{}",
        second.stdout,
        second.stderr
    );
}

#[test]
fn kept_upper_layer_holds_what_the_run_wrote() {
    let scratch = tempfile::tempdir().unwrap();
    let upper = scratch.path().join("layer");
    let mut spec = SandboxSpec::new(
        vec![PathBuf::from("/usr")],
        sh("mkdir -p /opt/dep && echo installed > /opt/dep/file"),
    );
    spec.upper = Upper::Keep(upper.clone());
    let ran = run(&spec);
    assert!(ran.outcome.success(), "{}", ran.stderr);
    assert_eq!(
        std::fs::read_to_string(upper.join("opt/dep/file")).unwrap(),
        "installed\n"
    );
    // The kept layer then serves as a lower layer of its own.
    let next = run(&SandboxSpec::new(
        vec![upper, PathBuf::from("/usr")],
        sh("cat /opt/dep/file"),
    ));
    assert_eq!(next.stdout, "installed\n", "{}", next.stderr);
}

#[test]
fn network_off_cannot_reach_a_server_on_host_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let probe = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
    let off = run(&SandboxSpec::host(vec![
        "/bin/bash".into(),
        "-c".into(),
        probe.clone(),
    ]));
    assert!(
        !off.outcome.success(),
        "connected to the host without a network"
    );

    let mut spec = SandboxSpec::host(vec!["/bin/bash".into(), "-c".into(), probe]);
    spec.network = true;
    let on = run(&spec);
    assert!(
        on.outcome.success(),
        "with the network on the host is reachable: {}",
        on.stderr
    );
}

#[test]
fn hidden_files_and_the_callers_environment_are_not_visible() {
    let secret_dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let key = secret_dir.path().join("signing.key");
    std::fs::write(&key, "untrusted comment: fake key\n").unwrap();
    let mut spec = SandboxSpec::host(sh(&format!("test ! -e {} && echo hidden", key.display())));
    spec.hide = vec![secret_dir.path().to_path_buf()];
    let ran = run(&spec);
    assert_eq!(ran.stdout.trim(), "hidden", "{}", ran.stderr);

    let mut spec = SandboxSpec::host(vec!["/usr/bin/env".into()]);
    spec.env = vec![("BALE_NAME".into(), "hello".into())];
    let ran = run(&spec);
    let mut keys: Vec<&str> = ran
        .stdout
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    keys.sort();
    // PWD is set by bwrap for the working directory.
    assert_eq!(
        keys,
        ["BALE_NAME", "HOME", "LANG", "PATH", "PWD"],
        "{}",
        ran.stdout
    );
}

#[test]
fn binds_are_writable_and_reach_the_host() {
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("in"), "source\n").unwrap();
    let mut spec = SandboxSpec::host(sh("cat in > out && pwd"));
    spec.binds = vec![Bind::writable(src.path(), "/bale/src")];
    spec.workdir = PathBuf::from("/bale/src");
    let ran = run(&spec);
    assert!(ran.outcome.success(), "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), "/bale/src");
    assert_eq!(
        std::fs::read_to_string(src.path().join("out")).unwrap(),
        "source\n"
    );
}

#[test]
fn read_only_binds_refuse_writes() {
    let src = tempfile::tempdir().unwrap();
    let mut spec = SandboxSpec::host(sh("echo x > /bale/ro/file"));
    spec.binds = vec![Bind::read_only(src.path(), "/bale/ro")];
    let ran = run(&spec);
    assert!(!ran.outcome.success());
    assert!(!src.path().join("file").exists());
}

#[test]
fn network_on_trusts_the_hosts_certificate_authorities() {
    let bundle = bale_sandbox::host::host_ca_bundle();
    if !bale_testkit::require(
        bundle.is_some(),
        "this host has no CA bundle to pass on (Debian package ca-certificates)",
    ) {
        return;
    }
    let bundle = bundle.expect("checked above");
    let host_size = std::fs::metadata(&bundle).unwrap().len();
    let script = "for v in SSL_CERT_FILE PIP_CERT NODE_EXTRA_CA_CERTS CARGO_HTTP_CAINFO REQUESTS_CA_BUNDLE; do eval echo \\$$v; done; wc -c < \"$SSL_CERT_FILE\"";
    let mut spec = SandboxSpec::new(vec![PathBuf::from("/usr")], sh(script));
    spec.network = true;
    let ran = run(&spec);
    assert!(ran.outcome.success(), "{}", ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(&lines[..5], &[bale_sandbox::host::SANDBOX_CA_BUNDLE; 5]);
    assert_eq!(lines[5].trim().parse::<u64>().unwrap(), host_size);

    let off = run(&SandboxSpec::new(
        vec![PathBuf::from("/usr")],
        sh("echo ${SSL_CERT_FILE:-unset}"),
    ));
    assert_eq!(off.stdout.trim(), "unset");
}

#[test]
fn the_ca_bundle_can_be_put_aside_leaving_the_usual_path_to_the_image() {
    let bundle = bale_sandbox::host::host_ca_bundle();
    if !bale_testkit::require(
        bundle.is_some(),
        "this host has no CA bundle to pass on (Debian package ca-certificates)",
    ) {
        return;
    }
    let bundle = bundle.expect("checked above");
    let host_size = std::fs::metadata(&bundle).unwrap().len();
    let script = "echo $SSL_CERT_FILE $NODE_EXTRA_CA_CERTS; wc -c < \"$SSL_CERT_FILE\"; \
                  if [ -e /etc/ssl/certs/ca-certificates.crt ]; then echo present; else echo absent; fi";
    let mut spec = SandboxSpec::new(vec![PathBuf::from("/usr")], sh(script));
    spec.network = true;
    spec.ca_bundle_path = PathBuf::from("/tmp/host-ca.crt");
    let ran = run(&spec);
    assert!(ran.outcome.success(), "{}", ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines[0], "/tmp/host-ca.crt /tmp/host-ca.crt");
    assert_eq!(lines[1].trim().parse::<u64>().unwrap(), host_size);
    assert_eq!(lines[2], "absent", "nothing is mounted at the usual path");
}

#[test]
fn the_umask_and_host_name_are_the_specs() {
    let mut spec = SandboxSpec::host(sh("umask; cat /proc/sys/kernel/hostname"));
    spec.umask = Some(0o027);
    spec.hostname = "elsewhere".into();
    let ran = run(&spec);
    assert!(ran.outcome.success(), "{}", ran.stderr);
    assert_eq!(ran.stdout, "0027\nelsewhere\n");
}

#[test]
fn a_missing_layer_is_refused_before_anything_runs() {
    let err = try_run(&SandboxSpec::new(
        vec![PathBuf::from("/nonexistent/layer")],
        sh("true"),
    ))
    .err()
    .unwrap();
    assert!(err.to_string().contains("bale stack create"), "{err}");
}

#[test]
fn layers_inside_one_another_are_refused_with_a_reason() {
    let layer = tempfile::tempdir_in("/var/tmp").unwrap();
    let err = try_run(&SandboxSpec::new(
        vec![layer.path().to_path_buf(), PathBuf::from("/")],
        sh("true"),
    ))
    .err()
    .unwrap();
    assert!(err.to_string().contains("inside one another"), "{err}");
}

#[test]
fn an_overlay_the_kernel_refuses_is_reported_as_such() {
    // procfs cannot be an overlay layer.
    let err = try_run(&SandboxSpec::new(
        vec![PathBuf::from("/proc/sys")],
        sh("true"),
    ))
    .err()
    .unwrap();
    assert!(
        err.to_string().contains("mounting the overlay root"),
        "{err}"
    );
}
