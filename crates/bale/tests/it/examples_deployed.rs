//! The examples of the kinds without a deploy test of their own (ruby, go)
//! built on debian-bookworm, deployed on this machine and answering HTTP on
//! their kit's port. Shares the examples' BALE_HOME (see `examples.rs`), so
//! the stack and the dependency layers are made once; each test deploys a
//! copy of its example whose kit port is a free one, as an app of its own,
//! and uninstalls it however the test ends. Needs root (a failure under
//! CI=true without it).

use crate::common;
use crate::examples::{bale, bookworm};

use std::path::Path;
use std::time::Duration;

use bale_testkit::http_get;
use common::{copy_tree, examples, free_port};

/// Uninstalls the app however the test ends.
struct Deployed<'a>(&'a str);

impl Drop for Deployed<'_> {
    fn drop(&mut self) {
        let _ = bale()
            .args(["uninstall", self.0])
            .timeout(Duration::from_secs(120))
            .output();
    }
}

/// Builds a copy of `examples/<example>` listening on `port` into `work`; the package's path.
fn build_on_port(example: &str, port: u16, work: &Path) -> std::path::PathBuf {
    let src = work.join(example);
    copy_tree(&examples().join(example), &src);
    let manifest = std::fs::read_to_string(src.join("bale.toml")).expect("read bale.toml");
    assert!(
        manifest.contains("port = 8080"),
        "the example's kit port changed shape"
    );
    std::fs::write(
        src.join("bale.toml"),
        manifest.replace("port = 8080", &format!("port = {port}")),
    )
    .expect("write bale.toml");
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
    out.join(format!("{example}-1.0.0.bale"))
}

/// Builds, deploys as `app` and checks the greeting and the health check over HTTP.
fn deployed_example_answers(example: &str, app: &str) {
    if bookworm().is_none() {
        return;
    }
    let work = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let port = free_port();
    let package = build_on_port(example, port, work.path());

    let _deployed = Deployed(app);
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
    assert_eq!(http_get(port, "/healthz").as_deref(), Some("ok\n"));
    let page = http_get(port, "/?name=%3Cbale%3E");
    assert_eq!(
        page.as_deref(),
        Some("<h1>Howdy, &lt;bale&gt;!</h1>\n"),
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
