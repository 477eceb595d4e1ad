//! Proving reproducibility on the build service (docs/service.md): a
//! checked build is built a second time in a fresh environment, on the other
//! worker when two are live, and published only when both packages are the
//! same bytes; one that differs ends `not-reproducible`, naming the files,
//! in its record, `bale builds`, the dashboard and the failure notice.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::common::{get_json, Scratch};
use crate::service::{build_record, serve, spawn, token};
use crate::service_hooks::receiver;

/// A project on the host stack whose main step writes `line` into share/stamp.
fn stamped(s: &Scratch, dir: &str, name: &str, line: &str) {
    s.write(
        &format!("{dir}/bale.toml"),
        &format!(
            "[package]\ngroup = \"org.example\"\nname = \"{name}\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\nkind = \"static\"\n\n[build]\nmain = [\"mkdir -p $BALE_PREFIX/share\", \"{line} > $BALE_PREFIX/share/stamp\"]\n"
        ),
    );
}

/// `bale submit ARGS --wait` against `url`.
fn submit(s: &Scratch, url: &str, token: &str, args: &[&str]) -> Output {
    s.bale()
        .arg("submit")
        .args(args)
        .arg("--wait")
        .env("BALE_REPO", url)
        .env("BALE_TOKEN", token)
        .output()
        .unwrap()
}

/// The build id `bale submit` printed first.
fn id_of(out: &Output) -> i64 {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or_else(|| panic!("no build id: {}", String::from_utf8_lossy(&out.stderr)))
}

/// The paths the record names as differing.
fn differing_paths(build: &Value) -> Vec<String> {
    build["reproducibility"]["differences"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|d| d["path"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_checked_build_that_reproduces_is_rebuilt_on_the_other_worker_and_published() {
    let s = Scratch::new();
    let database = format!("sqlite://{}", s.home().join("bale.db").display());
    rebuilt_on_the_other_worker(&s, &database);
}

#[test]
fn on_postgres_a_checked_build_is_rebuilt_on_the_other_worker() {
    let Some(database) = postgres() else { return };
    rebuilt_on_the_other_worker(&Scratch::new(), &database);
}

/// A fresh PostgreSQL database, or `None` outside CI when none is configured.
fn postgres() -> Option<String> {
    let url = bale_testkit::postgres_server()?;
    let name = bale_testkit::unique_name("bale_check");
    let out = std::process::Command::new("psql")
        .args([url.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "creating the database: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(bale_testkit::database_url(&url, &name))
}

/// Two workers over `database`: a checked build's second build runs on the
/// worker that did not make the first package, and the package is published.
fn rebuilt_on_the_other_worker(s: &Scratch, database: &str) {
    stamped(s, "same", "same", "echo always the same");
    s.bale().args(["key", "generate"]).assert().success();
    let token = token(s, "build", Some(database));
    let (_server, url) = serve(s, &["--workers", "0", "--database", database], &[]);
    let storage = s.home().join("repo").display().to_string();
    let worker = |name: &str| {
        spawn(
            s,
            &[
                "worker",
                "--allow-local-sources",
                "--database",
                database,
                "--storage",
                &storage,
                "--concurrency",
                "1",
                "--name",
                name,
            ],
            &[],
        )
    };
    let _a = worker("worker-a");
    let _b = worker("worker-b");

    let out = submit(s, &url, &token, &["same", "--check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("are identical"),
        "the followed log tells the comparison: {stderr}"
    );
    let build = build_record(&url, id_of(&out));
    assert_eq!(build["status"], "succeeded", "{build}");
    assert_eq!(build["check"], true);
    let check = &build["reproducibility"];
    assert_eq!(check["outcome"], "reproducible", "{build}");
    assert_eq!(check["first_digest"], check["second_digest"]);
    assert_eq!(check["second_digest"], build["package_digest"]);
    let workers = (
        check["first_worker"].as_str().unwrap(),
        check["second_worker"].as_str().unwrap(),
    );
    assert_ne!(
        workers.0, workers.1,
        "the second build ran on the other worker"
    );
    let attempts = build["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{build}");
    assert_eq!(
        (
            attempts[0]["worker"].as_str(),
            attempts[0]["outcome"].as_str()
        ),
        (Some(workers.0), Some("built"))
    );
    assert_eq!(
        (
            attempts[1]["worker"].as_str(),
            attempts[1]["outcome"].as_str()
        ),
        (Some(workers.1), Some("succeeded"))
    );
    assert!(
        get_json(&format!("{url}/api/v1/packages/org.example/same/1.0.0")).is_some(),
        "published"
    );
    // The first package, kept only to compare with, is gone.
    let id = build["id"].as_i64().unwrap();
    let first = s.home().join(format!("repo/checks/builds/{id}/first.bale"));
    assert!(!first.exists(), "{} is left behind", first.display());
}

#[test]
fn a_checked_build_that_differs_is_not_reproducible_names_the_file_everywhere_and_is_not_published()
{
    let s = Scratch::new();
    let (hook, notices) = receiver();
    s.write(
        "home/config.toml",
        &format!("[notice]\nwebhook = \"{hook}\"\n"),
    );
    stamped(&s, "clock", "clock", "date +%s%N");
    s.bale().args(["key", "generate"]).assert().success();
    let token = token(&s, "build", None);
    // One worker: the second build runs on it again, in a fresh environment.
    let (_server, url) = serve(&s, &["--workers", "1"], &[]);

    let out = submit(&s, &url, &token, &["clock", "--check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not-reproducible") && stderr.contains("share/stamp"),
        "{stderr}"
    );
    let id = id_of(&out);
    let build = build_record(&url, id);
    assert_eq!(build["status"], "not-reproducible", "{build}");
    let paths = differing_paths(&build);
    assert!(
        paths.iter().any(|p| p.ends_with("share/stamp")),
        "the record names the file: {build}"
    );
    let check = &build["reproducibility"];
    assert_eq!(check["outcome"], "not-reproducible");
    assert_eq!(
        check["first_worker"], check["second_worker"],
        "one worker built both"
    );
    // Both packages are kept, to be compared by hand.
    for kept in ["first", "second"] {
        let path = s
            .home()
            .join(format!("repo/checks/builds/{id}/{kept}.bale"));
        assert!(path.is_file(), "{} is kept", path.display());
    }
    assert_ne!(check["first_digest"], check["second_digest"]);
    assert!(
        get_json(&format!("{url}/api/v1/packages/org.example/clock/1.0.0")).is_none(),
        "a package that did not reproduce is not published"
    );

    // `bale builds` lists what differs under the build.
    let listed = s
        .bale()
        .arg("builds")
        .env("BALE_REPO", &url)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("not-reproducible")
            && listed.contains("differs:")
            && listed.contains("share/stamp: changed"),
        "{listed}"
    );

    // The dashboard's build page.
    let page = std::process::Command::new("curl")
        .args(["-sf", &format!("{url}/-/builds/{id}")])
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&page.stdout);
    let table = page
        .split("id=\"differences\"")
        .nth(1)
        .unwrap_or_else(|| panic!("a table of differences: {page}"));
    assert!(table.contains("share/stamp"), "{page}");

    // The failure notice.
    let notice = notices
        .recv_timeout(Duration::from_secs(30))
        .expect("a notice");
    assert_eq!(notice["status"], "not-reproducible", "{notice}");
    let named: Vec<&str> = notice["differences"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(named.iter().any(|d| d.contains("share/stamp")), "{notice}");
    assert!(
        notice["reason"].as_str().unwrap().contains("share/stamp"),
        "{notice}"
    );
}

#[test]
fn the_server_setting_checks_a_build_submitted_without_check() {
    let s = Scratch::new();
    s.write("home/config.toml", "[server]\ncheck_reproducible = true\n");
    stamped(&s, "plain", "plain", "echo plain");
    s.bale().args(["key", "generate"]).assert().success();
    let token = token(&s, "build", None);
    let (_server, url) = serve(&s, &["--workers", "1"], &[]);

    let out = submit(&s, &url, &token, &["plain"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let build = build_record(&url, id_of(&out));
    assert_eq!(build["status"], "succeeded", "{build}");
    assert_eq!(build["check"], true, "{build}");
    assert_eq!(
        build["reproducibility"]["outcome"], "reproducible",
        "{build}"
    );
    let attempts = build["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "built twice: {build}");
}
