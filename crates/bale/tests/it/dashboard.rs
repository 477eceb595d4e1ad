//! The dashboard of a real `bale serve` as Debian's Chromium renders it:
//! after a build on the host stack, the front page lists the build with
//! its step bars and the published package, the build's page shows its
//! log, and the package's page its files.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{copy_tree, examples, free_port, Scratch};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn dump_dom(browser: &str, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--virtual-time-budget=1000")
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_dashboard_shows_a_finished_build_its_log_and_its_package() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing; scripts/setup installs it"
        );
        eprintln!("skipped: chromium is not installed (scripts/setup installs it)");
        return;
    };
    let s = Scratch::new();
    let dir = s.path().join("static-docs");
    copy_tree(&examples().join("static-docs"), &dir);
    let manifest = std::fs::read_to_string(dir.join("bale.toml")).unwrap();
    std::fs::write(
        dir.join("bale.toml"),
        manifest.replace("name = \"debian-bookworm\"", "name = \"host\""),
    )
    .unwrap();
    s.bale().args(["key", "generate"]).assert().success();
    let token = s
        .bale()
        .args(["token", "create", "--scope", "build"])
        .output()
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();

    let listen = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(s.path().join("serve.log")).unwrap();
    let _server = Running(
        Command::new(PathBuf::from(env!("CARGO_BIN_EXE_bale")))
            .args(["serve", "--workers", "1", "--listen", &listen])
            .env("BALE_HOME", s.home())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let url = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Command::new("curl")
        .args(["-sf", &format!("{url}/api/v1/health")])
        .output()
        .map_or(true, |o| !o.status.success())
    {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    let out = s
        .bale()
        .args(["submit", "static-docs", "--wait"])
        .env("BALE_REPO", &url)
        .env("BALE_TOKEN", &token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned();

    let front = dump_dom(browser, &format!("{url}/"));
    assert!(
        front.contains(&format!("href=\"/-/builds/{id}\"")),
        "the build is listed: {front}"
    );
    assert!(front.contains("status succeeded"), "{front}");
    assert!(
        front.contains("class=\"bar\""),
        "step timings drawn as bars: {front}"
    );
    assert!(
        front.contains("href=\"/-/packages/org.example:static-docs:1.0.0\""),
        "the package is listed: {front}"
    );
    assert!(front.contains("host"), "the stacks are listed: {front}");

    let build = dump_dom(browser, &format!("{url}/-/builds/{id}"));
    assert!(
        build.contains("published org.example:static-docs:1.0.0"),
        "the stored log: {build}"
    );
    assert!(build.contains("<td>pack</td>"), "the steps: {build}");

    let package = dump_dom(
        browser,
        &format!("{url}/-/packages/org.example:static-docs:1.0.0"),
    );
    assert!(
        package.contains("app/site/index.html"),
        "the files: {package}"
    );
}
