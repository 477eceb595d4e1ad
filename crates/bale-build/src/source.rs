//! The source step: the tree the actions see, copied fresh for every build,
//! and the facts recorded about it (commit, commit time).
//!
//! The copy keeps what `make` and the build tools look at (see
//! docs/manifest.md, "The source"): a local tree keeps each entry's
//! modification time and permission bits; a `[source] git` checkout gives
//! every entry the commit's time, as `git archive` does, since the times of
//! a fresh checkout only tell the order git happened to write the files in.

mod copy;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bale_manifest::git;

use crate::BuildError;
use copy::{copy_tree, Times};

/// The source as the build uses it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTree {
    /// The git URL or path the source came from, when `[source] git` named one.
    pub git: Option<String>,
    /// The commit the tree was taken from, when it is a git work tree.
    pub commit: Option<String>,
    /// The commit's time (seconds since the epoch), else 0: `SOURCE_DATE_EPOCH`.
    pub date_epoch: u64,
    /// How many files were copied.
    pub files: usize,
}

/// Copies the source in `dir` into the empty directory `dest`, each entry
/// with its own modification time and permission bits: the tracked files
/// when `dir` is inside a git work tree (so build outputs and secrets lying
/// around are not seen), else every file and directory.
pub fn copy_local(dir: &Path, dest: &Path) -> Result<SourceTree, BuildError> {
    let tracked = git_tracked(dir);
    let (entries, (commit, date_epoch)) = match tracked {
        Some(files) => (files, head_commit(dir)),
        None => (walk(dir)?, (None, 0)),
    };
    let files = copy_tree(dir, dest, &entries, Times::Kept)?;
    Ok(SourceTree {
        git: None,
        commit,
        date_epoch,
        files,
    })
}

/// Clones `url` (a URL or a local repository) at `reference` into `clone`,
/// then copies its tracked files into `dest`.
///
/// Both values are checked first (bale_manifest::git) and reach git only
/// after `--`/`--end-of-options`, so neither is ever read as an option; a
/// remote URL is cloned with the `file` transport forbidden.
pub fn clone_git(
    url: &str,
    reference: Option<&str>,
    clone: &Path,
    dest: &Path,
) -> Result<SourceTree, BuildError> {
    let location = git::locate(url).map_err(|e| BuildError::Source(e.to_string()))?;
    if let Some(reference) = reference {
        git::check_ref(reference).map_err(|e| BuildError::Source(e.to_string()))?;
    }
    let config = git::config_args(location);
    let clone_text = clone.to_string_lossy();
    let mut args = config.clone();
    args.extend(["clone", "--quiet", "--no-checkout", "--", url, &clone_text]);
    run_git(None, &args)?;
    let target = reference.unwrap_or("HEAD");
    let mut args = config;
    args.extend([
        "-c",
        "advice.detachedHead=false",
        "checkout",
        "--quiet",
        // No --detach: a branch only the remote has is found as git's DWIM finds it.
        "--end-of-options",
        target,
        "--",
    ]);
    run_git(Some(clone), &args)?;
    let entries = git_tracked(clone).ok_or_else(|| {
        BuildError::Source(format!("{url} gave no git work tree to list the files of"))
    })?;
    let (commit, date_epoch) = head_commit(clone);
    let time = i64::try_from(date_epoch).unwrap_or(i64::MAX);
    let files = copy_tree(clone, dest, &entries, Times::Fixed(time))?;
    Ok(SourceTree {
        git: Some(url.to_string()),
        commit,
        date_epoch,
        files,
    })
}

fn run_git(dir: Option<&Path>, args: &[&str]) -> Result<String, BuildError> {
    let mut cmd = Command::new("git");
    if let Some(d) = dir {
        cmd.arg("-C").arg(d);
    }
    let out = cmd
        .args(args)
        .envs(git::ENV)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| BuildError::Source(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(BuildError::Source(format!(
            "`git {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The tracked files under `dir`, relative to it; `None` outside a git work tree.
fn git_tracked(dir: &Path) -> Option<Vec<PathBuf>> {
    let inside = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--is-inside-work-tree"])
        .output()
        .ok()?;
    if !inside.status.success() || inside.stdout.trim_ascii() != b"true" {
        return None;
    }
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["ls-files", "-z"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        out.stdout
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect(),
    )
}

/// HEAD's commit and commit time; a repository without commits gives none and 0.
fn head_commit(dir: &Path) -> (Option<String>, u64) {
    match run_git(Some(dir), &["log", "-1", "--format=%H %ct"]) {
        Ok(line) => {
            let mut parts = line.split_whitespace();
            let commit = parts.next().map(str::to_string);
            let time = parts.next().and_then(|t| t.parse().ok()).unwrap_or(0);
            (commit, time)
        }
        Err(_) => (None, 0),
    }
}

/// Every entry under `dir`, relative to it, `.git` left out; a directory
/// is listed too, so an empty one is copied.
fn walk(dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let abs = dir.join(&rel);
        for entry in fs::read_dir(&abs).map_err(|e| BuildError::io(&abs, e))? {
            let entry = entry.map_err(|e| BuildError::io(&abs, e))?;
            let name = entry.file_name();
            if rel.as_os_str().is_empty() && name == ".git" {
                continue;
            }
            let kind = entry
                .file_type()
                .map_err(|e| BuildError::io(&entry.path(), e))?;
            if kind.is_dir() {
                pending.push(rel.join(&name));
            }
            out.push(rel.join(&name));
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with one commit tagged `v1`, and a secret file beside it.
    fn fixture() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        fs::create_dir(&repo).unwrap();
        fs::write(repo.join("bale.toml"), "# app\n").unwrap();
        for args in [
            &["init", "-q"][..],
            &["add", "bale.toml"],
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "-m",
                "one",
            ],
            &["tag", "v1"],
        ] {
            let ok = Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(args)
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        }
        let secret = dir.path().join("default.key");
        fs::write(&secret, "RWQAAEIyplantedsecretkeyline\n").unwrap();
        (dir, repo, secret)
    }

    #[test]
    fn a_ref_that_names_an_option_never_reaches_git_nor_shows_a_file() {
        let (dir, repo, secret) = fixture();
        let reference = format!("--pathspec-from-file={}", secret.display());
        let error = clone_git(
            &repo.to_string_lossy(),
            Some(&reference),
            &dir.path().join("clone"),
            &dir.path().join("dest"),
        )
        .unwrap_err()
        .to_string();
        assert!(!error.contains("plantedsecret"), "{error}");
        assert!(error.contains("would read as an option"), "{error}");
    }

    #[test]
    fn a_url_that_names_an_option_or_a_command_transport_is_refused() {
        let (dir, _repo, _) = fixture();
        let marker = dir.path().join("ran");
        for url in [
            format!("--upload-pack=touch {}", marker.display()),
            format!("ext::sh -c touch% {}", marker.display()),
        ] {
            let error = clone_git(&url, None, &dir.path().join("c"), &dir.path().join("d"));
            assert!(error.is_err(), "{url} was cloned");
            assert!(!marker.exists(), "{url} ran a command");
        }
    }

    #[test]
    fn a_branch_only_the_remote_has_is_checked_out() {
        let (dir, repo, _) = fixture();
        let git = |args: &[&str]| {
            assert!(Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(args)
                .status()
                .unwrap()
                .success());
        };
        git(&["checkout", "-q", "-b", "feature"]);
        fs::write(repo.join("feature.txt"), "f\n").unwrap();
        git(&["add", "feature.txt"]);
        git(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "f",
        ]);
        git(&["checkout", "-q", "-"]);
        let dest = dir.path().join("dest");
        let tree = clone_git(
            &repo.to_string_lossy(),
            Some("feature"),
            &dir.path().join("clone"),
            &dest,
        )
        .unwrap();
        assert_eq!(tree.files, 2);
        assert!(dest.join("feature.txt").is_file());
    }

    #[test]
    fn a_git_checkout_gives_every_entry_the_commits_time() {
        use std::os::unix::fs::MetadataExt;

        let (dir, repo, _) = fixture();
        fs::create_dir(repo.join("m4")).unwrap();
        fs::write(repo.join("m4/macro.m4"), "dnl\n").unwrap();
        std::os::unix::fs::symlink("bale.toml", repo.join("link")).unwrap();
        for args in [
            &["add", "m4/macro.m4", "link"][..],
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "-m",
                "two",
            ],
        ] {
            let ok = Command::new("git")
                .arg("-C")
                .arg(&repo)
                .args(args)
                .env("GIT_COMMITTER_DATE", "1600000000 +0000")
                .status()
                .unwrap()
                .success();
            assert!(ok, "git {args:?}");
        }
        let dest = dir.path().join("dest");
        let tree = clone_git(
            &repo.to_string_lossy(),
            None,
            &dir.path().join("clone"),
            &dest,
        )
        .unwrap();
        assert_eq!(tree.date_epoch, 1_600_000_000);
        for rel in ["", "bale.toml", "m4", "m4/macro.m4", "link"] {
            let meta = dest.join(rel).symlink_metadata().unwrap();
            assert_eq!(
                (meta.mtime(), meta.mtime_nsec()),
                (1_600_000_000, 0),
                "`{rel}`"
            );
        }
    }

    #[test]
    fn a_local_repository_is_cloned_at_a_tag() {
        let (dir, repo, _) = fixture();
        let dest = dir.path().join("dest");
        let tree = clone_git(
            &repo.to_string_lossy(),
            Some("v1"),
            &dir.path().join("clone"),
            &dest,
        )
        .unwrap();
        assert_eq!(tree.files, 1);
        assert_eq!(tree.commit.as_deref().map(str::len), Some(40));
        assert!(dest.join("bale.toml").is_file());
    }
}
