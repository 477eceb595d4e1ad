//! A server killed with SIGKILL in the middle of an upload: after a restart
//! nothing partial is visible and the same upload succeeds.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bale_db::tokens::{self, Scope};
use common::{archive_path, build_package_with_data, options_for, ProcessGuard, Publisher};

const HOME_VAR: &str = "BALE_REPO_TEST_CHILD_HOME";
const HELLO: &str = "org.example:hello:2.10";

/// The server process of `a_server_killed_mid_upload_shows_nothing_partial_and_accepts_the_upload_after_restart`.
#[test]
#[ignore = "started as a child process by the crash test"]
fn child_server() {
    let Ok(home) = std::env::var(HOME_VAR) else {
        return;
    };
    let home = PathBuf::from(home);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = bale_repo::bind(options_for(&home)).await.unwrap();
        let addr = server.local_addr().unwrap();
        let temp = home.join("addr.tmp");
        std::fs::write(&temp, addr.to_string()).unwrap();
        std::fs::rename(&temp, home.join("addr")).unwrap();
        server.run().await.unwrap();
    });
}

fn start_child(home: &Path) -> (ProcessGuard, String) {
    let _ = std::fs::remove_file(home.join("addr"));
    let child = bale_testkit::child_test("crash::child_server")
        .env(HOME_VAR, home)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let guard = ProcessGuard::new(child);
    let addr = bale_testkit::wait_until(Duration::from_secs(60), "the child server", || {
        std::fs::read_to_string(home.join("addr")).ok()
    });
    (guard, format!("http://{addr}"))
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(files_under(&path));
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_upload_shows_nothing_partial_and_accepts_the_upload_after_restart() {
    let home = tempfile::tempdir().unwrap();
    let options = options_for(home.path());
    let publisher = Publisher::new();
    publisher.trust_in(&options.trusted_keys_dir, "publisher");
    // Large enough that half of it is past the server's receive buffer and on disk.
    let archive = build_package_with_data(&home.path().join("work"), HELLO, "a", 6 << 20);
    let signature = publisher.sign(&archive);
    let bytes = std::fs::read(&archive).unwrap();
    let token = {
        let db = bale_db::Database::connect(&options.database_url)
            .await
            .unwrap();
        let token = tokens::create(&db, Scope::Publish).await.unwrap();
        db.close().await;
        token
    };
    let signature_header = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&signature).unwrap())
    };

    let (mut child, url) = start_child(home.path());
    let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    tx.unbounded_send(Ok(bytes[..bytes.len() / 2].to_vec()))
        .unwrap();
    let upload = tokio::spawn(
        reqwest::Client::new()
            .put(format!("{url}{}", archive_path(HELLO)))
            .bearer_auth(&token)
            .header(bale_repo::server::SIGNATURE_HEADER, &signature_header)
            .header("content-length", bytes.len())
            .body(reqwest::Body::wrap_stream(rx))
            .send(),
    );

    // Wait until a good part of the upload is on the server's disk, then kill it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let received: u64 = files_under(&options.scratch_dir)
            .iter()
            .filter_map(|p| p.metadata().ok())
            .map(|m| m.len())
            .sum();
        if received >= 1 << 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never wrote the first part to disk"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.child().kill().unwrap();
    child.child().wait().unwrap();
    assert!(
        upload.await.unwrap().is_err(),
        "the interrupted upload failed for the client"
    );
    drop(tx);

    let repo_dir = PathBuf::from(&options.storage_url);
    assert_eq!(
        files_under(&repo_dir),
        Vec::<PathBuf>::new(),
        "nothing of the upload reached the repository tree"
    );

    let (_child, url) = start_child(home.path());
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{url}{}", archive_path(HELLO)))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let api = client
        .get(format!("{url}/api/v1/packages/org.example/hello/2.10"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status().as_u16(), 404);
    assert_eq!(
        files_under(&options.scratch_dir),
        Vec::<PathBuf>::new(),
        "the partial upload was removed at restart"
    );

    let response = client
        .put(format!("{url}{}", archive_path(HELLO)))
        .bearer_auth(&token)
        .header(bale_repo::server::SIGNATURE_HEADER, &signature_header)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let served = client
        .get(format!("{url}{}", archive_path(HELLO)))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(served.as_ref(), bytes.as_slice());
}
