//! Fixtures for the deploy, runtime and supervisor tests: packages packed
//! from hand-made roots with `bale pack`, deployed with the `bale` binary.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use assert_cmd::Command;

/// A scratch area with its own BALE_HOME.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
        // As root an app runs as its own user, who must reach its package.
        open_to_app_users(dir.path());
        World { dir }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// `bale` with this world's BALE_HOME.
    pub fn bale(&self) -> Command {
        let mut cmd = crate::common::bale_with_home(&self.home());
        cmd.env_remove("BALE_TEST_KILL_AT")
            .current_dir(self.dir.path());
        cmd
    }

    /// Runs apps on the host (`isolation = "none"`).
    pub fn isolation_none(&self) {
        std::fs::create_dir_all(self.home()).expect("home");
        std::fs::write(self.home().join("config.toml"), "isolation = \"none\"\n").expect("config");
    }

    /// Packs a root of `files` (path, content, executable) with manifest `toml`; returns the file.
    pub fn package(&self, label: &str, toml: &str, files: &[(&str, &str, bool)]) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let base = self.dir.path().join("src").join(label);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("app")).expect("root");
        for (path, content, executable) in files {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, content).expect("write");
            if *executable {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
            }
        }
        std::fs::write(base.join("bale.toml"), toml).expect("manifest");
        let out = base.join("out");
        self.bale()
            .current_dir(&base)
            .args(["pack", "root", "--manifest", "bale.toml", "-o"])
            .arg(&out)
            .assert()
            .success();
        let found = std::fs::read_dir(&out)
            .expect("out")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "bale"))
            .expect("a package");
        found
    }

    /// `bale apps --json`, parsed.
    pub fn apps(&self) -> serde_json::Value {
        let out = self
            .bale()
            .args(["apps", "--json"])
            .output()
            .expect("bale apps");
        assert!(
            out.status.success(),
            "bale apps: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("json")
    }

    /// The runtime directory of `app`.
    pub fn run_dir(&self, app: &str) -> PathBuf {
        self.home().join("apps").join(app).join("run")
    }

    /// The private port `app`'s proxy forwards `public` to (docs/runtime.md, "Zero-downtime deploys").
    pub fn private_port(&self, app: &str, public: u16) -> u16 {
        let path = self.home().join("apps").join(app).join("proxy/routes.json");
        let table: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("the routing table"))
                .expect("json");
        table["routes"]
            .as_array()
            .expect("routes")
            .iter()
            .find(|r| r["public"] == public)
            .and_then(|r| r["private"].as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .expect("the public port is routed")
    }

    /// Stops every service of `app`, if it is there.
    pub fn stop(&self, app: &str) {
        if self.home().join("apps").join(app).join("current").exists() {
            let _ = self.bale().args(["service", app, "stop"]).output();
        }
    }
}

pub use bale_testkit::http_get;

/// Waits (up to a minute) until `check` holds; panics with `what` otherwise.
pub fn wait_for(what: &str, check: impl FnMut() -> bool) {
    bale_testkit::wait_until(Duration::from_secs(60), what, check);
}

/// Whether a process with this pid exists (and is not a zombie).
pub fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next())
            != Some("Z")
    })
}

/// Lets apps' own users reach `dir` (a test's private temporary directory),
/// as they reach `/var/lib/bale`.
pub fn open_to_app_users(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
