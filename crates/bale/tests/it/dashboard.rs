//! The dashboard of a real `bale serve` as Debian's Chromium renders it:
//! after a build on the host stack, the front page lists the build with
//! its step bars and the published package, the build's page shows its
//! log, and the package's page its files.

use crate::common;

use common::{copy_tree, examples, Scratch};

/// The page at `url` as Chromium renders it.
fn dump_dom(url: &str) -> String {
    bale_testkit::dump_dom(url, 1000).expect("chromium is installed")
}

#[test]
fn the_dashboard_shows_a_finished_build_its_log_and_its_package() {
    if !bale_testkit::require(
        bale_testkit::chromium().is_some(),
        "chromium is not installed (scripts/setup installs it)",
    ) {
        return;
    }
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

    let server = s
        .serve()
        .args(["--workers", "1", "--allow-local-sources"])
        .log(s.path().join("serve.log"))
        .start();
    let url = server.url.clone();

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

    let front = dump_dom(&format!("{url}/"));
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
        front.contains("href=\"/-/packages/org.example:static-docs:1.0.0?arch=all\""),
        "the package is listed: {front}"
    );
    assert!(front.contains("host"), "the stacks are listed: {front}");

    let build = dump_dom(&format!("{url}/-/builds/{id}"));
    assert!(
        build.contains("published org.example:static-docs:1.0.0"),
        "the stored log: {build}"
    );
    assert!(build.contains("<td>pack</td>"), "the steps: {build}");

    let package = dump_dom(&format!("{url}/-/packages/org.example:static-docs:1.0.0"));
    assert!(
        package.contains("app/site/index.html"),
        "the files: {package}"
    );
}
