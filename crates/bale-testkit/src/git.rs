//! Git repositories made with the real git CLI, the same on every machine.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `git ARGS` in `dir` and returns its trimmed standard output; panics
/// with git's error when it fails. The identity, the dates (2023-11-14,
/// `1700000000`) and the default branch (`main`) are fixed, and the
/// machine's and user's git configuration is not read.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.org")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.org")
        .env("GIT_AUTHOR_DATE", "1700000000 +0000")
        .env("GIT_COMMITTER_DATE", "1700000000 +0000")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap_or_else(|e| panic!("running git {args:?} (is git installed?): {e}"));
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A git work tree made for a test.
pub struct GitRepo {
    dir: PathBuf,
}

impl GitRepo {
    /// `git init` in `dir` (created if missing) on branch `branch`.
    pub fn init(dir: impl Into<PathBuf>, branch: &str) -> GitRepo {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        git(&dir, &["init", "-q", "-b", branch]);
        GitRepo { dir }
    }

    /// `git init --bare` at `dir`, a remote to push to.
    pub fn bare(dir: impl Into<PathBuf>) -> GitRepo {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        git(&dir, &["init", "-q", "--bare"]);
        GitRepo { dir }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `git ARGS` in this repository (see [`git`]).
    pub fn git(&self, args: &[&str]) -> String {
        git(&self.dir, args)
    }

    /// Writes `files` (path, content; parents created), commits them all
    /// with `message`, and returns the new commit's id.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, content) in files {
            let path = self.dir.join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("the file's directory");
            }
            std::fs::write(&path, content)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.head()
    }

    /// The commit id of HEAD.
    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// A branch `name` at HEAD (staying on the current one).
    pub fn branch(&self, name: &str) {
        self.git(&["branch", name]);
    }

    /// An annotated tag `name` at HEAD.
    pub fn tag(&self, name: &str) {
        self.git(&["tag", "-a", "-m", name, name]);
    }

    /// Pushes `refs` to the repository at `remote` (a path or URL).
    pub fn push(&self, remote: &str, refs: &[&str]) {
        let mut args = vec!["push", "-q", remote];
        args.extend_from_slice(refs);
        self.git(&args);
    }
}
