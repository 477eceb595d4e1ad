//! The Python web example from source to a running app and through its
//! upgrades: examples/flask-notes built on the debian-bookworm stack, signed,
//! published to a `bale serve` on 127.0.0.1, installed from there and
//! deployed; version 2 (one more schema migration, run by `post-upgrade`)
//! keeps the notes in the runtime directory; version 3 (a health check that
//! fails) rolls back to 2 by itself.
//!
//! Versions 2 and 3 are made here from a copy of the example. Needs root,
//! the stack image cache the bale-stack tests fill (`BALE_TEST_STACK_CACHE`,
//! default /var/tmp/bale-stack-cache; `image-cache` in stacks.toml copies it)
//! and the network to Debian and PyPI; not run without the first two (a
//! failure under CI=true).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::time::Duration;

use bale_testkit::{stack_cache, Served};
use common::{copy_tree, examples, free_port, Scratch};
use predicates::prelude::*;

const APP: &str = "notes";

/// Stops the app's services however the test ends.
struct Deployed<'a>(&'a Scratch);

impl Drop for Deployed<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .bale()
            .args(["service", APP, "stop"])
            .timeout(Duration::from_secs(60))
            .output();
    }
}

fn serve(s: &Scratch, port: u16) -> Served {
    s.serve().port(port).start()
}

/// A copy of the example as `version`, serving on `port`; `edit` changes its manifest further.
fn version_of_example(
    s: &Scratch,
    version: &str,
    port: u16,
    edit: impl Fn(String) -> String,
) -> PathBuf {
    let dir = s.path().join(format!("flask-notes-{version}"));
    copy_tree(&examples().join("flask-notes"), &dir);
    let manifest = std::fs::read_to_string(dir.join("bale.toml")).expect("read bale.toml");
    assert!(
        manifest.contains("version     = \"1.0.0\"") && manifest.contains("port = 8080"),
        "the example's manifest changed shape"
    );
    let manifest = manifest
        .replace(
            "version     = \"1.0.0\"",
            &format!("version     = \"{version}\""),
        )
        .replace("port = 8080", &format!("port = {port}"));
    std::fs::write(dir.join("bale.toml"), edit(manifest)).expect("write bale.toml");
    dir
}

/// Appends one schema migration to the app: a `tag` column on notes.
fn add_migration(dir: &Path) {
    let path = dir.join("notes/db.py");
    let code = std::fs::read_to_string(&path).expect("read db.py");
    let end = "    CREATE INDEX notes_created_at ON notes (created_at);\n    \"\"\",\n]";
    assert!(code.contains(end), "the example's MIGRATIONS changed shape");
    let code = code.replace(end, "    CREATE INDEX notes_created_at ON notes (created_at);\n    \"\"\",\n    \"ALTER TABLE notes ADD COLUMN tag TEXT NOT NULL DEFAULT '';\",\n]");
    std::fs::write(&path, code).expect("write db.py");
}

fn get(port: u16, path: &str) -> Option<String> {
    let out = StdCommand::new("curl")
        .args([
            "-fsS",
            "--max-time",
            "10",
            &format!("http://127.0.0.1:{port}{path}"),
        ])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn current(s: &Scratch) -> Option<String> {
    let out = s
        .bale()
        .args(["apps", "--json"])
        .output()
        .expect("bale apps");
    let apps: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    apps.as_array()?.iter().find(|a| a["name"] == APP)?["current"]["coordinate"]
        .as_str()
        .map(str::to_owned)
}

/// The schema version of the app's database in its runtime directory.
fn schema_version(s: &Scratch) -> String {
    let db = s.home().join("apps").join(APP).join("run/notes.sqlite3");
    let out = StdCommand::new("python3")
        .args(["-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA user_version').fetchone()[0])"])
        .arg(&db)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn flask_notes_goes_from_source_to_running_upgrades_with_its_data_and_rolls_back_a_failing_version()
{
    if !bale_testkit::require_stack_image("debian-bookworm") {
        return;
    }
    let s = Scratch {
        dir: tempfile::tempdir_in("/var/tmp").expect("tempdir"),
    };
    std::fs::create_dir_all(s.home()).expect("mkdir home");
    std::fs::write(
        s.home().join("stacks.toml"),
        format!("image-cache = {:?}\n", stack_cache().display().to_string()),
    )
    .expect("stacks.toml");
    s.bale()
        .args(["stack", "create", "debian-bookworm"])
        .timeout(Duration::from_secs(600))
        .assert()
        .success();
    s.bale().args(["key", "generate"]).assert().success();

    let port = free_port();
    let sources = [
        version_of_example(&s, "1.0.0", port, |m| m),
        version_of_example(&s, "2.0.0", port, |m| m),
        version_of_example(&s, "3.0.0", port, |m| {
            m.replace(
                "http = \"/healthz\", timeout = \"30s\"",
                "http = \"/no-such-page\", timeout = \"10s\"",
            )
        }),
    ];
    add_migration(&sources[1]);
    add_migration(&sources[2]);
    for dir in &sources {
        let out = s
            .bale()
            .arg("build")
            .arg(dir)
            .args(["-o", "out", "--key", "default"])
            .timeout(Duration::from_secs(1800))
            .output()
            .expect("bale build");
        assert!(
            out.status.success(),
            "build of {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let out = s
        .bale()
        .args(["token", "create", "--scope", "publish", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let token = token["token"].as_str().expect("token").to_owned();
    let repo_port = free_port();
    let _server = serve(&s, repo_port);
    let repo = format!("http://127.0.0.1:{repo_port}");
    for version in ["1.0.0", "2.0.0", "3.0.0"] {
        let file = crate::examples::built(&s.path().join("out"), "flask-notes", version);
        s.bale()
            .env("BALE_TOKEN", &token)
            .args(["publish"])
            .arg(&file)
            .args(["--repo", &repo])
            .assert()
            .success();
    }
    // From here on the packages come from the repository only.
    std::fs::remove_dir_all(s.path().join("out")).expect("rm out");
    let deploy = |version: &str| {
        let coordinate = format!("org.example:flask-notes:{version}");
        s.bale()
            .args(["install", &coordinate, "--repo", &repo])
            .timeout(Duration::from_secs(300))
            .assert()
            .success();
        s.bale()
            .args(["deploy", APP, &coordinate])
            .timeout(Duration::from_secs(300))
            .assert()
    };

    // 1.0.0: migrated by post-install, answering, keeping a note.
    let _deployed = Deployed(&s);
    deploy("1.0.0").success();
    assert_eq!(
        current(&s).as_deref(),
        Some("org.example:flask-notes:1.0.0")
    );
    assert_eq!(get(port, "/healthz").as_deref(), Some("ok\n"));
    // A command reaches the running service through $PORT.
    s.bale()
        .args(["app", APP, "ping"])
        .assert()
        .success()
        .stdout("ok\n");
    let out = StdCommand::new("curl")
        .args([
            "-fsS",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"body": "kept across upgrades"}"#,
        ])
        .arg(format!("http://127.0.0.1:{port}/notes"))
        .output()
        .expect("curl");
    assert!(
        out.status.success(),
        "POST /notes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(schema_version(&s), "2");

    // 2.0.0: post-upgrade ran the new migration; the note is still there.
    deploy("2.0.0").success();
    assert_eq!(
        current(&s).as_deref(),
        Some("org.example:flask-notes:2.0.0")
    );
    assert_eq!(schema_version(&s), "3");
    assert!(get(port, "/notes")
        .unwrap_or_default()
        .contains("kept across upgrades"));

    // 3.0.0: its health check fails, so 2.0.0 is current and answering again.
    deploy("3.0.0")
        .code(1)
        .stderr(predicate::str::contains("health").or(predicate::str::contains("healthy")));
    assert_eq!(
        current(&s).as_deref(),
        Some("org.example:flask-notes:2.0.0")
    );
    assert_eq!(get(port, "/healthz").as_deref(), Some("ok\n"));
    assert!(get(port, "/notes")
        .unwrap_or_default()
        .contains("kept across upgrades"));
}
