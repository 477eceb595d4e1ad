//! The examples of the kinds without a deploy test of their own (ruby, go)
//! built on debian-bookworm, deployed on this machine and answering HTTP on
//! their kit's port. Shares the examples' BALE_HOME (see `examples.rs`), so
//! the stack and the dependency layers are made once; each test deploys a
//! copy of its example whose kit port is a free one (and whose version
//! names that port), as an app of its own, and uninstalls it and its
//! package however the test ends. Needs root (a failure under
//! CI=true without it).

use crate::common;
use crate::examples::{bale, bookworm};

use std::path::{Path, PathBuf};
use std::time::Duration;

use bale_testkit::http_get;
use common::{copy_tree, examples, free_port};

/// Uninstalls the app and removes its package however the test ends.
struct Deployed {
    app: &'static str,
    package: PathBuf,
}

impl Drop for Deployed {
    fn drop(&mut self) {
        let _ = bale()
            .args(["uninstall", self.app])
            .timeout(Duration::from_secs(120))
            .output();
        // Installed packages are read-only; each run installs its own version.
        let _ = std::process::Command::new("chmod")
            .arg("-R")
            .arg("u+w")
            .arg(&self.package)
            .status();
        let _ = std::fs::remove_dir_all(&self.package);
    }
}

/// Builds a copy of `examples/<example>` as `version`, listening on `port`,
/// into `work`; the package's path.
fn build_on_port(example: &str, version: &str, port: u16, work: &Path) -> PathBuf {
    let src = work.join(example);
    copy_tree(&examples().join(example), &src);
    let manifest = std::fs::read_to_string(src.join("bale.toml")).expect("read bale.toml");
    assert!(
        manifest.contains("port = 8080") && manifest.contains("version     = \"1.0.0\""),
        "the example's manifest changed shape"
    );
    let manifest = manifest
        .replace("port = 8080", &format!("port = {port}"))
        .replace(
            "version     = \"1.0.0\"",
            &format!("version     = \"{version}\""),
        );
    std::fs::write(src.join("bale.toml"), manifest).expect("write bale.toml");
    let out = work.join("out");
    let run = bale()
        .arg("build")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .timeout(Duration::from_secs(1800))
        .output()
        .expect("run bale");
    assert!(
        run.status.success(),
        "bale build {example} failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    crate::examples::built(&out, example, version)
}

/// Builds, deploys as `app` and checks the greeting and the health check over HTTP.
fn deployed_example_answers(example: &str, app: &'static str) {
    let Some(home) = bookworm() else {
        return;
    };
    let work = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let port = free_port();
    // The port is in the package's bytes, so it is in its version too: the
    // shared home never sees two packages under one coordinate.
    let version = format!("1.0.{port}");
    let package = build_on_port(example, &version, port, work.path());

    let _deployed = Deployed {
        app,
        package: home.join("pkgs/org/example").join(example).join(&version),
    };
    let run = bale()
        .args(["deploy", app])
        .arg(&package)
        .args(["--allow-unsigned", "--env", "GREETING=Howdy"])
        .timeout(Duration::from_secs(600))
        .output()
        .expect("run bale");
    assert!(
        run.status.success(),
        "bale deploy {app} failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // The deploy waited for the health check; the answer is there now.
    assert_eq!(
        http_get(port, "/healthz").as_deref().map(str::trim),
        Some("ok")
    );
    let page = http_get(port, "/?name=%3Cbale%3E");
    assert_eq!(
        page.as_deref().map(str::trim),
        Some("<h1>Howdy, &lt;bale&gt;!</h1>"),
        "the greeting comes from the app's variable, the name is escaped"
    );
}

#[test]
fn ruby_hello_deploys_and_answers_http_on_its_port() {
    deployed_example_answers("ruby-hello", "kinds-ruby-hello");
}

#[test]
fn go_hello_deploys_and_answers_http_on_its_port() {
    deployed_example_answers("go-hello", "kinds-go-hello");
}
