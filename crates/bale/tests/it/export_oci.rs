//! `bale export oci` against the tools that consume images: a package built
//! on debian-bookworm (a small site served by two services of its main kit)
//! exported to an OCI layout that umoci unpacks (checking every diff_id),
//! skopeo reads, podman runs (the site answers on its published port), a
//! local docker-registry takes by `--push`, and that is the same, byte for
//! byte, when exported twice.
//!
//! Needs root, the cached debian-bookworm image and umoci, skopeo, podman,
//! runc and docker-registry (scripts/setup installs them); under CI=true a
//! missing one fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use bale_testkit::{free_port, http_get, require, wait_until, ProcessGuard};
use serde_json::Value;

use crate::examples::{bale, bookworm};

const MANIFEST: &str = r#"[package]
group = "org.example"
name = "oci-hello"
version = "1.0.0"
description = "A site and a worker, for bale export oci"

[stack]
name = "debian-bookworm"
kind = "static"

[dependencies]
runtime = ["python3"]

[build]
destinations = ["public"]

[run]
workdir = "app"

[run.services]
web = "exec python3 -m http.server --bind 0.0.0.0 \"$PORT\" --directory public"
worker = "while :; do echo \"$GREETING from $(id -u)\" >\"$BALE_RUN/worker.txt\"; sleep 1; done"

[kits.web]
main = true
ports = [{ name = "http", port = 8080 }]
services = ["web", "worker"]

[kits.web.variables]
GREETING = { default = "hello" }
"#;

/// The tools these tests run, each checked with `require`.
fn tools() -> bool {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool} >/dev/null")])
            .status()
            .is_ok_and(|s| s.success())
    };
    ["umoci", "skopeo", "podman", "runc", "docker-registry"]
        .iter()
        .all(|tool| {
            require(
                have(tool),
                &format!("needs {tool} (scripts/setup installs it from apt)"),
            )
        })
}

/// The fixture package, built once per test binary on debian-bookworm.
fn package() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<(tempfile::TempDir, PathBuf)>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            bookworm()?;
            let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
            let src = dir.path().join("src");
            std::fs::create_dir_all(src.join("public")).expect("mkdir");
            std::fs::write(src.join("bale.toml"), MANIFEST).expect("write");
            std::fs::write(src.join("public/index.html"), "hello from an OCI image\n")
                .expect("write");
            let out = dir.path().join("out");
            let run = bale()
                .arg("build")
                .arg(&src)
                .arg("-o")
                .arg(&out)
                .arg("--json")
                .output()
                .expect("run bale");
            assert!(
                run.status.success(),
                "bale build failed:\n{}",
                String::from_utf8_lossy(&run.stderr)
            );
            let printed: Value = serde_json::from_slice(&run.stdout).expect("json");
            let path = PathBuf::from(printed["path"].as_str().expect("the package's path"));
            Some((dir, path))
        })
        .as_ref()
        .map(|(_, path)| path.as_path())
}

/// Exports the fixture into `layout` and returns the manifest's digest.
fn export(layout: &Path, extra: &[&str]) -> String {
    let package = package().expect("the package");
    let run = bale()
        .args(["export", "oci"])
        .arg(package)
        .arg("-o")
        .arg(layout)
        .args(["--tag", "oci-hello:1.0.0", "--json"])
        .args(extra)
        .output()
        .expect("run bale");
    assert!(
        run.status.success(),
        "bale export oci failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let printed: Value = serde_json::from_slice(&run.stdout).expect("json");
    printed["digest"].as_str().expect("a digest").to_owned()
}

fn run(command: &mut Command) -> String {
    let out = command.output().expect("run");
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ready() -> bool {
    tools() && package().is_some()
}

/// Every file of a layout, by name, with its bytes.
fn files(layout: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![layout.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                out.push((
                    path.strip_prefix(layout).expect("inside").to_path_buf(),
                    bytes,
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_same_package_exports_to_the_same_bytes() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let first = export(&dir.path().join("one"), &[]);
    let second = export(&dir.path().join("two"), &[]);
    assert_eq!(first, second, "the manifest digests");
    let one = files(&dir.path().join("one"));
    let two = files(&dir.path().join("two"));
    assert_eq!(one.len(), two.len());
    for ((a, a_bytes), (b, b_bytes)) in one.iter().zip(&two) {
        assert_eq!(a, b);
        assert!(a_bytes == b_bytes, "{} differs", a.display());
    }
    // stack, runtime layer, package, config, manifest
    assert_eq!(
        one.iter().filter(|(p, _)| p.starts_with("blobs")).count(),
        5
    );
}

#[test]
fn umoci_unpacks_the_image_and_skopeo_reads_its_config() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let layout = dir.path().join("image");
    export(&layout, &[]);
    let bundle = dir.path().join("bundle");
    // umoci checks every layer's diff_id against the config as it unpacks.
    run(Command::new("umoci")
        .arg("unpack")
        .arg("--image")
        .arg(format!("{}:1.0.0", layout.display()))
        .arg(&bundle));
    let prefix = bundle.join("rootfs/opt/bale/org/example/oci-hello/1.0.0");
    assert_eq!(
        std::fs::read_to_string(prefix.join("app/public/index.html")).expect("the package's file"),
        "hello from an OCI image\n"
    );
    assert!(prefix.join(".bale/index.json").is_file());
    assert!(
        bundle.join("rootfs/usr/bin/python3").exists(),
        "the runtime layer's python3"
    );
    assert!(bundle.join("rootfs/bin/sh").exists(), "the stack");
    assert!(bundle.join("rootfs/bale/init").is_file(), "the entrypoint");

    let inspected: Value = serde_json::from_str(&run(Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}:1.0.0", layout.display()))))
    .expect("json");
    assert_eq!(inspected["Architecture"], "amd64");
    assert_eq!(inspected["Os"], "linux");
    assert_eq!(
        inspected["Labels"]["bale.coordinate"],
        "org.example:oci-hello:1.0.0"
    );
    let digest = inspected["Labels"]["bale.package.digest"]
        .as_str()
        .expect("the package digest");
    let sum = run(Command::new("sha256sum").arg(package().expect("package")));
    let hex = sum.split_whitespace().next().expect("a hash");
    assert_eq!(digest, format!("sha256:{hex}"));
    assert_eq!(inspected["Layers"].as_array().map(Vec::len), Some(3));

    let config: Value = serde_json::from_str(&run(Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("oci:{}:1.0.0", layout.display()))))
    .expect("json");
    let env: Vec<&str> = config["config"]["Env"]
        .as_array()
        .expect("Env")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env[0].starts_with("PATH=/opt/bale/org/example/oci-hello/1.0.0/bin:"));
    assert!(env.contains(&"GREETING=hello"), "{env:?}");
    assert!(env.contains(&"PORT=8080"), "{env:?}");
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(
        config["config"]["WorkingDir"],
        "/opt/bale/org/example/oci-hello/1.0.0/app"
    );
    assert!(config["config"]["ExposedPorts"]["8080/tcp"].is_object());
    assert_eq!(config["history"].as_array().map(Vec::len), Some(3));
}

/// `podman` as it works on this machine: runc, cgroupfs, bounded limits.
fn podman() -> Command {
    let mut cmd = Command::new("podman");
    cmd.args(["--runtime", "runc", "--cgroup-manager", "cgroupfs"]);
    cmd
}

/// Removes a container or image when the test ends, passing or not.
struct Podman {
    args: Vec<String>,
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = podman().args(&self.args).output();
    }
}

#[test]
fn podman_runs_the_image_and_its_site_answers_on_the_published_port() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let layout = dir.path().join("image");
    export(&layout, &[]);
    // Into podman's storage by skopeo, under a name of our own: podman's
    // `oci:` pull names the image after the layout's path, which may hold
    // capitals that an image name cannot.
    let id = format!("localhost/bale-oci-test:{}", std::process::id());
    run(Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci:{}:1.0.0", layout.display()))
        .arg(format!("containers-storage:{id}")));
    let _image = Podman {
        args: vec!["rmi".into(), "-f".into(), id.clone()],
    };
    let port = free_port();
    let name = format!("bale-oci-test-{}-{port}", std::process::id());
    let _container = Podman {
        args: vec!["rm".into(), "-f".into(), name.clone()],
    };
    run(podman()
        .args(["run", "-d", "--name", &name])
        .args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1000:1000",
        ])
        .args(["-p", &format!("127.0.0.1:{port}:8080")])
        .arg(&id));
    let body = wait_until(Duration::from_secs(60), "the site in the container", || {
        http_get(port, "/index.html")
    });
    assert_eq!(body, "hello from an OCI image");
    // The second service of the main kit runs too, as the image's user, with the kit's default.
    let worker = wait_until(Duration::from_secs(30), "the worker's file", || {
        podman()
            .args(["exec", &name, "cat", "/bale/run/worker.txt"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    });
    assert_eq!(worker, "hello from 65532");
    // SIGTERM stops both services and the init exits by itself, not by SIGKILL.
    run(podman().args(["stop", "-t", "30", &name]));
    let code = run(podman().args(["inspect", "-f", "{{.State.ExitCode}}", &name]));
    assert_eq!(code.trim(), "0", "the init's exit status after SIGTERM");
}

#[test]
fn a_pushed_image_comes_back_from_the_registry_with_the_same_digest() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let port = free_port();
    let config = dir.path().join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        ),
    )
    .expect("write");
    let _registry = ProcessGuard::spawn(
        Command::new("docker-registry").arg("serve").arg(&config),
        "docker-registry",
    );
    wait_until(Duration::from_secs(30), "docker-registry", || {
        http_get(port, "/v2/").is_some()
    });
    let layout = dir.path().join("image");
    let target = format!("127.0.0.1:{port}/example/oci-hello:1.0.0");
    let digest = export(&layout, &["--push", &target]);
    let copy = dir.path().join("copy");
    run(Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{target}"))
        .arg(format!("oci:{}:1.0.0", copy.display())));
    let index: Value =
        serde_json::from_slice(&std::fs::read(copy.join("index.json")).expect("index.json"))
            .expect("json");
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());

    // A second push finds every blob there already.
    let again = bale()
        .args(["export", "oci"])
        .arg(package().expect("package"))
        .arg("-o")
        .arg(&layout)
        .args(["--tag", "oci-hello:1.0.0", "--push", &target, "--json"])
        .output()
        .expect("run bale");
    assert!(again.status.success());
    let printed: Value = serde_json::from_slice(&again.stdout).expect("json");
    assert_eq!(printed["uploaded"], 0);
    assert_eq!(printed["present"], 4);
}
