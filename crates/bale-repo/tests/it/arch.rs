//! One coordinate, one file per architecture: publish, conflicts, fetch's
//! choice and refusal, and trees from before architectures.

use crate::common;

use std::path::{Path, PathBuf};

use bale_archive::{Dependencies, PackMeta, PackageTree, SourceRef, StackRef};
use bale_coordinate::Coordinate;
use bale_db::tokens::Scope;
use bale_repo::client::{self, FetchOptions, PublishOptions, PublishStatus};
use bale_repo::RepoError;
use common::{build_package, Backend, TestServer};

const MULTI: &str = "org.example:multi:1.0";

/// A package of `coordinate` for `arch` whose `bin/busybox` is Debian's
/// static busybox for that architecture, plus a `variant` file.
fn busybox_package(out: &Path, coordinate: &str, arch: &str, variant: &str) -> PathBuf {
    let coordinate: Coordinate = coordinate.parse().unwrap();
    let root = out.join(format!("root-{arch}-{variant}"));
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(
        bale_testkit::foreign::static_busybox(arch),
        root.join("bin/busybox"),
    )
    .unwrap();
    std::fs::write(root.join("bin/variant"), format!("{variant}\n")).unwrap();
    let tree = PackageTree::scan(&root).unwrap();
    let meta = PackMeta {
        arch: Some(arch.to_owned()),
        coordinate: coordinate.clone(),
        stack: StackRef {
            name: "host".into(),
            digest: String::new(),
        },
        dependencies: Dependencies::default(),
        source: SourceRef::default(),
        mtime: 0,
    };
    let path = out.join(format!("{variant}-{}", coordinate.arch_file_name(arch)));
    let file = std::fs::File::create(&path).unwrap();
    tree.write(&meta, b"", std::io::BufWriter::new(file))
        .unwrap();
    path
}

async fn publish(server: &TestServer, archive: &Path) -> Result<PublishStatus, RepoError> {
    server.publisher.sign(archive);
    let options = PublishOptions {
        repo: server.url.clone(),
        file: archive.to_owned(),
        signature: None,
        token: Some(server.token(Scope::Publish).await),
    };
    client::publish(&options, &|_, _| {})
        .await
        .map(|p| p.status)
}

fn fetch_options(server: &TestServer, coordinate: &str, arch: Option<&str>) -> FetchOptions {
    FetchOptions {
        arch: arch.map(str::to_owned),
        repo: server.url.clone(),
        coordinate: coordinate.parse().unwrap(),
        out_dir: server.work_dir(&format!("fetched-{}", arch.unwrap_or("machine"))),
        trusted_keys_dir: Some(server.options.trusted_keys_dir.clone()),
        allow_unsigned: false,
        token: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_architecture_of_a_coordinate_publishes_once_and_fetch_takes_the_machines() {
    let server = TestServer::start(Backend::Local, |_| {}).await;
    let work = server.work_dir("pkg");
    let amd64 = busybox_package(&work, MULTI, "amd64", "a");
    let arm64 = busybox_package(&work, MULTI, "arm64", "a");
    assert_eq!(
        publish(&server, &amd64).await.unwrap(),
        PublishStatus::Published
    );
    assert_eq!(
        publish(&server, &arm64).await.unwrap(),
        PublishStatus::Published
    );
    assert_eq!(
        publish(&server, &arm64).await.unwrap(),
        PublishStatus::Unchanged
    );

    // Other bytes for an architecture already published: refused, 409.
    let other = busybox_package(&work, MULTI, "arm64", "b");
    let raw = server
        .put(
            "/org/example/multi/1.0/multi-1.0-arm64.bale",
            std::fs::read(&other).unwrap(),
            Some(&server.token(Scope::Publish).await),
            Some(&server.publisher.sign(&other)),
        )
        .await;
    assert_eq!(raw.status().as_u16(), 409);
    // An archive uploaded under another architecture's name: refused.
    let (status, code, message) = common::error_code(
        server
            .put(
                "/org/example/multi/1.0/multi-1.0-riscv64.bale",
                std::fs::read(&arm64).unwrap(),
                Some(&server.token(Scope::Publish).await),
                Some(&server.publisher.sign(&arm64)),
            )
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (400, "arch_mismatch"), "{message}");

    let (status, detail) = server
        .get_json("/api/v1/packages/org.example/multi/1.0")
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["archs"], serde_json::json!(["amd64", "arm64"]));
    assert_eq!(detail["arch"], "amd64");
    let (_, arm) = server
        .get_json("/api/v1/packages/org.example/multi/1.0?arch=arm64")
        .await;
    assert_eq!(
        arm["files"]["archive"],
        "/org/example/multi/1.0/multi-1.0-arm64.bale"
    );
    let (_, hits) = server.get_json("/api/v1/search?file=bin/busybox").await;
    let archs: Vec<_> = hits["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["arch"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);

    let fetched = client::fetch(&fetch_options(&server, MULTI, Some("amd64")), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(fetched.index.arch(), "amd64");
    assert!(fetched.archive.ends_with("multi-1.0-amd64.bale"));
    assert_eq!(
        std::fs::read(&fetched.archive).unwrap(),
        std::fs::read(&amd64).unwrap()
    );
    let fetched = client::fetch(&fetch_options(&server, MULTI, Some("arm64")), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(fetched.index.arch(), "arm64");
    assert!(fetched.archive.ends_with("multi-1.0-arm64.bale"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_of_a_coordinate_built_only_for_another_architecture_names_both() {
    let server = TestServer::start(Backend::Local, |_| {}).await;
    let arm64 = busybox_package(&server.work_dir("pkg"), MULTI, "arm64", "a");
    publish(&server, &arm64).await.unwrap();
    let err = client::fetch(&fetch_options(&server, MULTI, Some("amd64")), &|_, _| {})
        .await
        .unwrap_err();
    assert!(matches!(err, RepoError::ForeignArch { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("org.example:multi:1.0 is built for arm64; this machine is amd64"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_published_under_its_old_name_is_still_served_and_fetched() {
    let server = TestServer::start(Backend::Local, |_| {}).await;
    // A package from before architectures: no arch in its index.
    let archive = build_package(&server.work_dir("pkg"), "org.example:hello:2.10", "a");
    publish(&server, &archive).await.unwrap();
    // The tree as a server before architectures left it: the same files
    // under their old names (its database rows migrate to amd64).
    let dir = server
        .repo
        .storage()
        .local_dir()
        .unwrap()
        .join("org/example/hello/2.10");
    for (new, old) in [
        ("hello-2.10-amd64.bale", "hello-2.10.bale"),
        ("hello-2.10-amd64.bale.minisig", "hello-2.10.bale.minisig"),
        ("hello-2.10-amd64.json", "hello-2.10.json"),
    ] {
        std::fs::rename(dir.join(new), dir.join(old)).unwrap();
    }

    for path in [
        "/org/example/hello/2.10/hello-2.10-amd64.bale",
        "/org/example/hello/2.10/hello-2.10.bale",
        "/org/example/hello/2.10/hello-2.10-amd64.json",
    ] {
        assert_eq!(server.get(path).await.status().as_u16(), 200, "{path}");
    }
    assert_eq!(
        server
            .get("/org/example/hello/2.10/hello-2.10-arm64.bale")
            .await
            .status()
            .as_u16(),
        404
    );
    let (_, detail) = server
        .get_json("/api/v1/packages/org.example/hello/2.10")
        .await;
    assert_eq!(
        detail["files"]["archive"],
        "/org/example/hello/2.10/hello-2.10.bale"
    );

    let fetched = client::fetch(
        &fetch_options(&server, "org.example:hello:2.10", Some("amd64")),
        &|_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(&fetched.archive).unwrap(),
        std::fs::read(&archive).unwrap()
    );
    assert!(fetched.archive.ends_with("hello-2.10-amd64.bale"));
    assert!(fetched.signed_by.is_some());

    // A plain web server over that tree: fetch falls back to the old name.
    let nginx_dir = server.work_dir("nginx");
    let repo_dir = server.repo.storage().local_dir().unwrap();
    let Some((_nginx, mirror)) =
        tokio::task::spawn_blocking(move || crate::mirror::start_nginx(&nginx_dir, &repo_dir))
            .await
            .unwrap()
    else {
        return;
    };
    let options = FetchOptions {
        repo: mirror,
        out_dir: server.work_dir("from-mirror"),
        ..fetch_options(&server, "org.example:hello:2.10", Some("amd64"))
    };
    let fetched = client::fetch(&options, &|_, _| {}).await.unwrap();
    assert_eq!(
        std::fs::read(&fetched.archive).unwrap(),
        std::fs::read(&archive).unwrap()
    );
    // The old name of an amd64 package is refused on an arm64 machine.
    let options = FetchOptions {
        arch: Some("arm64".into()),
        out_dir: server.work_dir("from-mirror-arm64"),
        ..options
    };
    let err = client::fetch(&options, &|_, _| {}).await.unwrap_err();
    assert!(matches!(err, RepoError::ForeignArch { .. }), "{err}");
}
