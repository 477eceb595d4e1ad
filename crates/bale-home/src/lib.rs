//! The layout of `$BALE_HOME`, and every environment variable bale reads.
//!
//! Every path bale keeps state under is named here once, so the commands,
//! the store, the deployer and the service agree on where things live.

use std::path::{Path, PathBuf};

use bale_coordinate::Coordinate;

/// Every environment variable bale reads, with what it means.
pub mod env {
    /// All state on this machine; default `/var/lib/bale` as root, else `~/.local/share/bale`.
    pub const BALE_HOME: &str = "BALE_HOME";
    /// The default repository URL for publish, fetch and install.
    pub const BALE_REPO: &str = "BALE_REPO";
    /// Bearer token for publish and submit.
    pub const BALE_TOKEN: &str = "BALE_TOKEN";
    /// A file holding the password of an encrypted signing key (its first line).
    pub const BALE_KEY_PASSWORD_FILE: &str = "BALE_KEY_PASSWORD_FILE";
    /// The password of an encrypted signing key, for services that cannot
    /// read a file (BALE_KEY_PASSWORD_FILE wins when both are set).
    pub const BALE_KEY_PASSWORD: &str = "BALE_KEY_PASSWORD";
    /// Registry credentials for `bale export oci --push`, as `USER:PASSWORD`.
    pub const BALE_REGISTRY_AUTH: &str = "BALE_REGISTRY_AUTH";
    /// The ssh command `bale deploy --hosts` runs (default `ssh`).
    pub const BALE_SSH: &str = "BALE_SSH";
    /// The shared secret of signed git push webhooks (`bale serve --hook-secret`).
    pub const BALE_HOOK_SECRET: &str = "BALE_HOOK_SECRET";
    /// Testing aid: the deploy step at which a deploy kills itself (crash
    /// tests); read by debug builds only, release builds ignore it.
    pub const BALE_TEST_KILL_AT: &str = "BALE_TEST_KILL_AT";
    /// Turns colour off when set to anything.
    pub const NO_COLOR: &str = "NO_COLOR";
    /// The home directory, used to find the default `BALE_HOME` for non-root users.
    pub const HOME: &str = "HOME";
    /// Where XDG data lives, preferred over `~/.local/share` when set.
    pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
    /// The time `bale pack` writes into every entry (default 0).
    pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";
    /// The builder id `bale build` writes into a package's provenance
    /// (default `urn:bale:builder:local`); the build service's worker sets it
    /// to the service's URL.
    pub const BALE_BUILDER_ID: &str = "BALE_BUILDER_ID";
    /// The build's id at its builder (the build's URL at a service), written
    /// into the provenance as its invocation id.
    pub const BALE_BUILD_INVOCATION: &str = "BALE_BUILD_INVOCATION";
    /// Internal: the run a sandbox keeper started by bale carries, as JSON.
    pub const BALE_SANDBOX_RUN: &str = "BALE_SANDBOX_RUN";
    /// Internal: the log and limits a log pump started by bale writes to, as JSON.
    pub const BALE_LOG_PUMP: &str = "BALE_LOG_PUMP";

    /// The variable's value, unless it is unset, blank or not UTF-8.
    pub fn non_blank(name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }

    /// The repository or service URL: `flag`, else `BALE_REPO`, else the
    /// server on this machine ([`crate::DEFAULT_SERVER_URL`]).
    pub fn server_url(flag: Option<String>) -> String {
        flag.or_else(|| non_blank(BALE_REPO))
            .unwrap_or_else(|| crate::DEFAULT_SERVER_URL.to_owned())
    }

    /// The bearer token from `BALE_TOKEN`, when one is set.
    pub fn token() -> Option<String> {
        non_blank(BALE_TOKEN)
    }
}

/// Where `bale serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7070";
/// The repository and build service on this machine: the default of
/// `--repo` and `--server` when `BALE_REPO` is not set.
pub const DEFAULT_SERVER_URL: &str = "http://127.0.0.1:7070";

/// Why the home directory could not be found.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// Neither BALE_HOME nor HOME is set for a non-root user.
    #[error("cannot find a place for bale's state: set BALE_HOME (e.g. `export BALE_HOME=~/.local/share/bale`)")]
    NoHome,
}

/// The root of everything bale keeps on a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// A home at an explicit path.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The home from `BALE_HOME`, else the default for this user.
    pub fn from_env() -> Result<Self, HomeError> {
        if let Some(dir) = std::env::var_os(env::BALE_HOME).filter(|d| !d.is_empty()) {
            return Ok(Self::new(dir));
        }
        if is_root() {
            return Ok(Self::new("/var/lib/bale"));
        }
        if let Some(data) = std::env::var_os(env::XDG_DATA_HOME).filter(|d| !d.is_empty()) {
            return Ok(Self::new(PathBuf::from(data).join("bale")));
        }
        let home = std::env::var_os(env::HOME)
            .filter(|d| !d.is_empty())
            .ok_or(HomeError::NoHome)?;
        Ok(Self::new(PathBuf::from(home).join(".local/share/bale")))
    }

    /// The root directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Installed packages: `pkgs/<group as path>/<name>/<version>/`.
    pub fn pkgs_dir(&self) -> PathBuf {
        self.root.join("pkgs")
    }

    /// Where one installed package lives.
    pub fn package_dir(&self, coordinate: &Coordinate) -> PathBuf {
        self.pkgs_dir().join(coordinate.relative_dir())
    }

    /// Scratch space on the same file system as the store, for atomic renames.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Signing keys (`NAME.key`, `NAME.pub`).
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// Public keys this machine trusts.
    pub fn trusted_keys_dir(&self) -> PathBuf {
        self.keys_dir().join("trusted")
    }

    /// Stack images and their dependency layers.
    pub fn stacks_dir(&self) -> PathBuf {
        self.root.join("stacks")
    }

    /// Deployed apps.
    pub fn apps_dir(&self) -> PathBuf {
        self.root.join("apps")
    }

    /// One app's directory.
    pub fn app_dir(&self, app: &str) -> PathBuf {
        self.apps_dir().join(app)
    }

    /// The local repository tree served by `bale serve`.
    pub fn repo_dir(&self) -> PathBuf {
        self.root.join("repo")
    }

    /// The embedded database.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("bale.db")
    }

    /// Build caches, one directory per package.
    pub fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }

    /// The machine's configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// The admin's kinds, read over the shipped ones when present.
    pub fn kinds_path(&self) -> PathBuf {
        self.root.join("kinds.toml")
    }

    /// The admin's stacks, read over the shipped ones when present.
    pub fn stacks_config_path(&self) -> PathBuf {
        self.root.join("stacks.toml")
    }

    /// Failed builds' environments kept by `--keep-failed`, one directory per expiry time.
    pub fn failed_dir(&self) -> PathBuf {
        self.root.join("failed")
    }

    /// The refs `bale watch` has seen, one state file per remote.
    pub fn watch_dir(&self) -> PathBuf {
        self.root.join("watch")
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_dirs_follow_the_coordinate() {
        let home = Home::new("/h");
        let c: Coordinate = "org.example:hello:2.10".parse().unwrap();
        assert_eq!(
            home.package_dir(&c),
            PathBuf::from("/h/pkgs/org/example/hello/2.10")
        );
    }

    #[test]
    fn the_default_server_url_is_where_serve_listens() {
        assert_eq!(DEFAULT_SERVER_URL, format!("http://{DEFAULT_LISTEN}"));
    }

    #[test]
    fn a_flag_wins_over_the_environment_for_the_server_url() {
        let flag = Some("http://repo.example:7070".to_owned());
        assert_eq!(env::server_url(flag), "http://repo.example:7070");
    }
}
