//! Fixtures for the command-line tests: a private BALE_HOME per test and
//! a `bale` command bound to it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tempfile::TempDir;

/// A scratch area with its own BALE_HOME.
pub struct Scratch {
    pub dir: TempDir,
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// `bale` with BALE_HOME `home`, no colour, and nothing inherited that
/// would change what it does: no repository, token, builder identity or
/// SOURCE_DATE_EPOCH.
pub fn bale_with_home(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("bale").expect("the bale binary");
    cmd.env("BALE_HOME", home)
        .env("NO_COLOR", "1")
        .env_remove("BALE_REPO")
        .env_remove("BALE_TOKEN")
        .env_remove("BALE_BUILDER_ID")
        .env_remove("BALE_BUILD_INVOCATION")
        .env_remove("SOURCE_DATE_EPOCH");
    cmd
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // As root an app runs as its own user, who must reach its package.
        crate::deploy_fixture::open_to_app_users(dir.path());
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// `bale` with this scratch's BALE_HOME ([`bale_with_home`]), in the scratch dir.
    pub fn bale(&self) -> Command {
        let mut cmd = bale_with_home(&self.home());
        cmd.current_dir(self.path());
        cmd
    }

    /// `bale serve` with this scratch's BALE_HOME, in the scratch dir; `.start()` runs it.
    pub fn serve(&self) -> bale_testkit::BaleServe {
        bale_testkit::BaleServe::new(bale_exe(), self.home()).current_dir(self.path())
    }

    /// Writes a file (creating parents) relative to the scratch dir.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
        path
    }
}

/// The repository's examples directory.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Copies a directory tree (files and dirs only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

pub use bale_testkit::free_port;

/// The `bale` binary these tests run.
pub fn bale_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bale"))
}

/// The JSON answer of `GET url` (by curl), or `None` on any failure.
pub fn get_json(url: &str) -> Option<serde_json::Value> {
    let out = std::process::Command::new("curl")
        .args(["-sf", url])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

/// A small manifest for hand-made package roots.
pub const MINIMAL: &str = r#"[package]
group = "org.example"
name = "tiny"
version = "1.0.0"

[stack]
name = "host"
kind = "static"
"#;

/// `GET url` by curl with a bearer token when given: the status and body.
/// The header goes through curl's standard input, so the token is never
/// on a command line where `ps` would show it.
pub fn get_with_token(url: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    use std::io::Write;
    use std::process::Stdio;
    let mut curl = std::process::Command::new("curl");
    curl.args(["-s", "-w", "\n%{http_code}", "-H", "@-", url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut child = curl.spawn().expect("curl");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(token) = token {
        writeln!(stdin, "Authorization: Bearer {token}").expect("header");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("curl");
    let mut body = out.stdout;
    let split = body
        .iter()
        .rposition(|b| *b == b'\n')
        .expect("a status line");
    let status = String::from_utf8_lossy(&body[split + 1..])
        .trim()
        .parse()
        .expect("a status");
    body.truncate(split);
    (status, body)
}
