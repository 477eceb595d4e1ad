//! The dashboard as Debian's Chromium renders it: the overview's tables,
//! a package's files, a missing build, and a running build's log followed
//! over server-sent events by the page's script.
//!
//! The data comes from a fixed [`Source`] in the test and the log stream
//! from a small route beside the dashboard that speaks the same protocol
//! as the service's `/api/v1/builds/{id}/log`; the service's own tests
//! cover the real data behind them.

use std::convert::Infallible;
use std::process::Command;
use std::sync::Arc;

use axum::response::sse::{Event, Sse};
use axum::routing::get;
use bale_dashboard::{
    router, AppRow, AttestationLink, BuildPage, BuildRow, CheckView, DifferenceRow, FileRow,
    Overview, PackagePage, PackageRow, Source, SourceError, StackRow, StepRow,
};
use bale_testkit::dump_dom;
use futures::stream::{self, Stream};

struct Fixed;

fn running_build() -> BuildRow {
    BuildRow {
        id: 7,
        coordinate: None,
        source: "https://git.example/hello.git".into(),
        status: "running".into(),
        duration_ms: None,
        steps: vec![StepRow {
            name: "layer".into(),
            duration_ms: 1200,
            status: "succeeded".into(),
        }],
        error: None,
    }
}

fn failed_build() -> BuildRow {
    BuildRow {
        id: 6,
        coordinate: Some("org.example:hello:1.0".into()),
        source: "/src/hello".into(),
        status: "failed".into(),
        duration_ms: Some(4200),
        steps: vec![
            StepRow {
                name: "source".into(),
                duration_ms: 200,
                status: "succeeded".into(),
            },
            StepRow {
                name: "main".into(),
                duration_ms: 4000,
                status: "failed".into(),
            },
        ],
        error: Some("step main failed: make exited with 2 <see log>".into()),
    }
}

impl Source for Fixed {
    async fn overview(&self) -> Result<Overview, SourceError> {
        Ok(Overview {
            queue: vec![running_build()],
            recent: vec![failed_build()],
            packages: vec![PackageRow {
                coordinate: "org.example:hello:1.0".into(),
                arch: "arm64".into(),
                size: 2048,
                key_id: Some("A1B2".into()),
            }],
            stacks: vec![StackRow {
                name: "debian-bookworm".into(),
                state: "warm".into(),
                size: Some(200 << 20),
                digest: Some("abcdef0123456789ffff".into()),
            }],
            apps: vec![AppRow {
                name: "notes".into(),
                coordinate: Some("org.example:notes:2".into()),
                services: vec![("web".into(), "running".into())],
            }],
        })
    }

    async fn build(&self, id: i64) -> Result<Option<BuildPage>, SourceError> {
        Ok(match id {
            7 => Some(BuildPage {
                build: running_build(),
                log: "rendered before the stream\n".into(),
                ..Default::default()
            }),
            6 => Some(BuildPage {
                build: failed_build(),
                log: "make: *** [all] Error 2\n".into(),
                ..Default::default()
            }),
            8 => Some(BuildPage {
                build: BuildRow {
                    id: 8,
                    status: "not-reproducible".into(),
                    error: Some("not reproducible: share/stamp differs".into()),
                    ..failed_build()
                },
                check: Some(CheckView {
                    outcome: "not-reproducible".into(),
                    first_worker: "worker-a".into(),
                    second_worker: Some("worker-b".into()),
                    differences: vec![DifferenceRow {
                        path: "share/<stamp>".into(),
                        change: "changed".into(),
                        facts: vec!["sha256".into(), "size".into()],
                    }],
                }),
                ..Default::default()
            }),
            _ => None,
        })
    }

    async fn package(
        &self,
        coordinate: &str,
        arch: Option<&str>,
    ) -> Result<Option<PackagePage>, SourceError> {
        Ok(
            (coordinate == "org.example:hello:1.0" && arch == Some("arm64")).then(|| PackagePage {
                attestations: vec![AttestationLink {
                    label: "SPDX".into(),
                    href: "/org/example/hello/1.0/hello-1.0-arm64.bale.spdx.json".into(),
                }],
                package: PackageRow {
                    coordinate: coordinate.into(),
                    arch: "arm64".into(),
                    size: 2048,
                    key_id: None,
                },
                files: vec![
                    FileRow {
                        path: "bin/hello".into(),
                        class: "binary".into(),
                        size: 16384,
                        linkage: Some("dynamic".into()),
                        needed: vec!["libc.so.6".into()],
                    },
                    FileRow {
                        path: "etc/hello.conf".into(),
                        class: "config".into(),
                        size: 12,
                        linkage: None,
                        needed: vec![],
                    },
                ],
            }),
        )
    }
}

/// Two log lines, then the end of the build with its status, as the service sends them.
async fn log_stream() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(stream::iter(vec![
        Ok(Event::default().id("1").data("step main: compiling")),
        Ok(Event::default().id("2").data("step main: linking <hello>")),
        Ok(Event::default().event("end").data("succeeded")),
    ]))
}

async fn serve() -> String {
    let app = router(Arc::new(Fixed)).route("/api/v1/builds/7/log", get(log_stream));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        axum::serve(listener, app)
            .await
            .expect("serve the dashboard");
    });
    format!("http://{addr}")
}

async fn dom(url: String, budget_ms: u32) -> Option<String> {
    tokio::task::spawn_blocking(move || dump_dom(&url, budget_ms))
        .await
        .expect("chromium thread")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_shows_queue_builds_packages_stacks_and_apps() {
    let base = serve().await;
    let Some(dom) = dom(format!("{base}/"), 500).await else {
        return;
    };
    assert!(
        dom.contains("href=\"/-/builds/7\""),
        "queued build linked: {dom}"
    );
    assert!(dom.contains("status running"), "{dom}");
    assert!(dom.contains("status failed"), "{dom}");
    assert!(dom.contains("org.example:hello:1.0"), "{dom}");
    assert!(
        dom.contains("href=\"/-/packages/org.example:hello:1.0?arch=arm64\"")
            && dom.contains("class=\"arch\">arm64<"),
        "package linked with its architecture: {dom}"
    );
    assert!(dom.contains("2.0 KiB"), "package size: {dom}");
    assert!(
        dom.contains("debian-bookworm") && dom.contains("warm") && dom.contains("200.0 MiB"),
        "{dom}"
    );
    assert!(
        dom.contains("notes") && dom.contains("web: running"),
        "{dom}"
    );
    assert_eq!(
        dom.matches("class=\"bar\"").count(),
        3,
        "one bar per step: {dom}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_package_page_lists_files_with_class_size_and_linkage() {
    let base = serve().await;
    let Some(dom) = dom(
        format!("{base}/-/packages/org.example:hello:1.0?arch=arm64"),
        200,
    )
    .await
    else {
        return;
    };
    assert!(dom.contains("class=\"arch\">arm64<"), "{dom}");
    assert!(
        dom.contains("bin/hello") && dom.contains("binary") && dom.contains("16.0 KiB"),
        "{dom}"
    );
    assert!(
        dom.contains("dynamic") && dom.contains("libc.so.6"),
        "{dom}"
    );
    assert!(
        dom.contains("etc/hello.conf") && dom.contains("config"),
        "{dom}"
    );
    assert!(dom.contains("unsigned"), "{dom}");
    assert!(
        dom.contains("href=\"/org/example/hello/1.0/hello-1.0-arm64.bale.spdx.json\"")
            && dom.contains(">SPDX</a>"),
        "the package page links its SBOM: {dom}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_build_shows_its_error_escaped_and_its_log() {
    let base = serve().await;
    let Some(dom) = dom(format!("{base}/-/builds/6"), 200).await else {
        return;
    };
    assert!(
        dom.contains("make exited with 2 &lt;see log&gt;"),
        "error text escaped: {dom}"
    );
    assert!(dom.contains("make: *** [all] Error 2"), "{dom}");
    assert!(
        !dom.contains("EventSource"),
        "a finished build does not follow its log: {dom}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_that_did_not_reproduce_shows_both_workers_and_what_differs() {
    let base = serve().await;
    let Some(dom) = dom(format!("{base}/-/builds/8"), 200).await else {
        return;
    };
    assert!(
        dom.contains("the packages built by worker-a and worker-b differ"),
        "{dom}"
    );
    let table = dom
        .split("id=\"differences\"")
        .nth(1)
        .expect("a table of differences");
    assert!(
        table.contains("share/&lt;stamp&gt;") && table.contains("sha256, size"),
        "the differing file, escaped, with its facts: {dom}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_build_page_follows_its_log_live() {
    let base = serve().await;
    let Some(dom) = dom(format!("{base}/-/builds/7"), 1500).await else {
        return;
    };
    assert!(
        dom.contains("step main: compiling"),
        "streamed line shown: {dom}"
    );
    assert!(
        dom.contains("step main: linking &lt;hello&gt;"),
        "streamed text escaped: {dom}"
    );
    assert!(
        !dom.contains("rendered before the stream"),
        "the stream replaced the rendered log: {dom}"
    );
    assert!(
        dom.contains("class=\"status succeeded\">succeeded"),
        "the end event's status shown: {dom}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_build_is_a_404_page() {
    let base = serve().await;
    let response = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("{base}/-/builds/99"))
            .output()
    })
    .await
    .expect("curl thread")
    .expect("run curl");
    assert_eq!(String::from_utf8_lossy(&response.stdout), "404");
}
