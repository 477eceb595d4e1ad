//! The source of a build on the worker's machine: a local directory used
//! as it is, or a git repository cloned at the asked ref.

use std::path::{Path, PathBuf};

use bale_manifest::git::{self, GitLocation};
use bale_manifest::ManifestError;
use tokio::process::Command;

use crate::ServiceError;

/// The source ready for `bale build`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prepared {
    /// The directory holding bale.toml.
    pub dir: PathBuf,
    /// The commit built, when the source is git.
    pub commit: Option<String>,
}

/// Whether `source` names a git repository to clone rather than a directory.
pub fn is_git_url(source: &str) -> bool {
    source.contains("://") || source.starts_with("git@") || source.ends_with(".git")
}

/// Checks a submitted source and ref before they are queued or cloned: the
/// ref by git's rules, the source by scheme, a path or `file://` URL on this
/// machine only when `allow_local`.
pub fn check_submitted(
    source: &str,
    git_ref: Option<&str>,
    allow_local: bool,
) -> Result<GitLocation, ManifestError> {
    if let Some(reference) = git_ref {
        git::check_ref(reference)?;
    }
    if !is_git_url(source) && !source.starts_with('/') && git::locate(source)? == GitLocation::Local
    {
        return Err(ManifestError::GitUrl {
            url: source.to_owned(),
            reason: "it is neither a git URL nor an absolute directory on the workers' machine"
                .into(),
        });
    }
    git::check_url(source, allow_local)
}

/// Makes the source available under `work`: a git URL (or any source with a
/// ref) is cloned into `work/src`; a plain directory is used in place. A
/// path or `file://` URL is refused unless `allow_local`.
pub(crate) async fn prepare(
    source: &str,
    git_ref: Option<&str>,
    work: &Path,
    allow_local: bool,
) -> Result<Prepared, ServiceError> {
    let location = check_submitted(source, git_ref, allow_local)
        .map_err(|e| ServiceError::Source(e.to_string()))?;
    if !is_git_url(source) && git_ref.is_none() {
        let dir = PathBuf::from(source);
        if !dir.join("bale.toml").is_file() {
            return Err(ServiceError::Source(format!(
                "{source} holds no bale.toml on this worker's machine; submit a git URL when workers run elsewhere"
            )));
        }
        let commit = git(&dir, location, &["rev-parse", "--verify", "HEAD"])
            .await
            .ok();
        return Ok(Prepared { dir, commit });
    }
    let clone = work.join("src");
    let clone_text = clone.to_string_lossy().into_owned();
    git(
        work,
        location,
        &[
            "clone",
            "--quiet",
            "--no-checkout",
            "--",
            source,
            &clone_text,
        ],
    )
    .await?;
    let target = git_ref.unwrap_or("HEAD");
    // A branch or tag name is found among the remote's refs too.
    let remote = match target.strip_prefix("refs/heads/") {
        Some(branch) => format!("refs/remotes/origin/{branch}"),
        None => format!("origin/{target}"),
    };
    let resolved = match git(
        &clone,
        location,
        &[
            "rev-parse",
            "--verify",
            "--end-of-options",
            &format!("{target}^{{commit}}"),
        ],
    )
    .await
    {
        Ok(commit) => commit,
        Err(_) => {
            git(
                &clone,
                location,
                &[
                    "rev-parse",
                    "--verify",
                    "--end-of-options",
                    &format!("{remote}^{{commit}}"),
                ],
            )
            .await?
        }
    };
    git(
        &clone,
        location,
        &[
            "-c",
            "advice.detachedHead=false",
            "checkout",
            "--quiet",
            "--detach",
            "--end-of-options",
            &resolved,
            "--",
        ],
    )
    .await?;
    stamp_checkout(&clone, location, &resolved).await?;
    Ok(Prepared {
        dir: clone,
        commit: Some(resolved),
    })
}

/// Gives every checked-out entry the commit's time, the rule for a git
/// checkout (docs/manifest.md, "The source the actions see"): `bale build`
/// keeps a local tree's times, and a fresh checkout's only tell the order
/// git wrote the files in.
async fn stamp_checkout(
    clone: &Path,
    location: GitLocation,
    commit: &str,
) -> Result<(), ServiceError> {
    let time = git(clone, location, &["show", "-s", "--format=%ct", commit]).await?;
    let seconds: i64 = time
        .parse()
        .map_err(|_| ServiceError::Source(format!("git gave `{time}` as the time of {commit}")))?;
    let root = clone.to_path_buf();
    tokio::task::spawn_blocking(move || bale_fs::set_tree_times(&root, seconds, &[".git"]))
        .await
        .map_err(|e| ServiceError::Source(format!("stamping the checkout: {e}")))?
        .map_err(|e| ServiceError::Source(format!("stamping the checkout: {e}")))
}

/// Refuses a manifest whose `[source] git` is a path or `file://` URL on
/// this machine when local sources are off: `bale build` would clone it.
pub(crate) fn check_manifest_source(dir: &Path, allow_local: bool) -> Result<(), ServiceError> {
    let path = dir.join("bale.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        // `bale build` reports a missing or unreadable manifest itself.
        return Ok(());
    };
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Ok(());
    };
    let source = doc.get("source");
    let reference = source.and_then(|s| s.get("ref")).and_then(|r| r.as_str());
    if let Some(url) = source.and_then(|s| s.get("git")).and_then(|g| g.as_str()) {
        git::check_url(url, allow_local)
            .map_err(|e| ServiceError::Source(format!("[source] git in bale.toml: {e}")))?;
    }
    if let Some(reference) = reference {
        git::check_ref(reference)
            .map_err(|e| ServiceError::Source(format!("[source] ref in bale.toml: {e}")))?;
    }
    Ok(())
}

/// Runs git over a user's value: no prompt, no system config, no `ext`
/// transport, and no `file` transport unless the source is local.
async fn git(dir: &Path, location: GitLocation, args: &[&str]) -> Result<String, ServiceError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(git::config_args(location))
        .args(args)
        .envs(git::ENV)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            ServiceError::Source(format!("cannot run git: {e} (install git on the worker)"))
        })?;
    if !out.status.success() {
        return Err(ServiceError::Source(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// For a full ref that names a version (`refs/heads/<name>-<version>`,
/// `refs/tags/v<version>`, as git triggers submit them): checks a branch
/// against the manifest's package name and builds that version, written
/// into the cloned manifest. Returns the version, or `None` for other refs.
pub(crate) fn apply_version_ref(
    prepared: &Prepared,
    source: &str,
    git_ref: Option<&str>,
) -> Result<Option<String>, ServiceError> {
    let Some(full_ref) =
        git_ref.filter(|r| r.starts_with("refs/heads/") || r.starts_with("refs/tags/"))
    else {
        return Ok(None);
    };
    let commit = prepared.commit.clone().unwrap_or_default();
    let Ok(triggered) = bale_trigger::decide(source, full_ref, &commit) else {
        // A ref that names no version is built as it is.
        return Ok(None);
    };
    let path = prepared.dir.join("bale.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| ServiceError::io(&path, e))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| ServiceError::Source(format!("{}: {e}", path.display())))?;
    let name = doc
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_owned();
    let version = match triggered.name {
        Some(_) => triggered
            .check_package(&name)
            .map_err(|e| ServiceError::Source(e.to_string()))?,
        None => triggered.version.clone(),
    };
    doc["package"]["version"] = toml_edit::value(version.clone());
    std::fs::write(&path, doc.to_string()).map_err(|e| ServiceError::io(&path, e))?;
    Ok(Some(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git_in(dir: &Path, args: &[&str]) {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    /// A repository with a bale.toml, committed; and a planted secret beside it.
    fn repository() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        std::fs::write(repo.join("bale.toml"), "[package]\n").unwrap();
        git_in(&repo, &["init", "-q"]);
        git_in(&repo, &["add", "bale.toml"]);
        git_in(
            &repo,
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
        );
        let secret = dir.path().join("worker.key");
        std::fs::write(&secret, "plantedsecretline\n").unwrap();
        (dir, repo, secret)
    }

    #[tokio::test]
    async fn a_worker_refuses_local_sources_unless_allowed() {
        let (dir, repo, _) = repository();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let path = repo.to_string_lossy().into_owned();
        let file_url = format!("file://{path}");
        for source in [&path, &file_url] {
            let refused = prepare(source, None, &work, false).await.unwrap_err();
            assert!(
                refused.to_string().contains("--allow-local-sources"),
                "{refused}"
            );
            assert!(!work.join("src").exists(), "{source} was cloned");
        }
        let prepared = prepare(&file_url, Some("HEAD"), &work, true).await.unwrap();
        assert!(prepared.dir.join("bale.toml").is_file());
        assert_eq!(prepared.commit.map(|c| c.len()), Some(40));
    }

    #[tokio::test]
    async fn every_entry_of_a_clone_gets_the_commits_time() {
        use std::os::unix::fs::MetadataExt;

        let (dir, repo, _) = repository();
        std::fs::create_dir(repo.join("m4")).unwrap();
        std::fs::write(repo.join("m4/macro.m4"), "dnl\n").unwrap();
        git_in(&repo, &["add", "m4"]);
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "-m",
                "two",
            ])
            .env("GIT_COMMITTER_DATE", "1600000000 +0000")
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let url = format!("file://{}", repo.display());
        let prepared = prepare(&url, Some("HEAD"), &work, true).await.unwrap();
        for rel in ["", "bale.toml", "m4", "m4/macro.m4"] {
            let meta = prepared.dir.join(rel).symlink_metadata().unwrap();
            assert_eq!(meta.mtime(), 1_600_000_000, "`{rel}`");
        }
    }

    #[tokio::test]
    async fn a_ref_naming_an_option_is_refused_before_git_sees_it() {
        let (dir, repo, secret) = repository();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let reference = format!("--pathspec-from-file={}", secret.display());
        let refused = prepare(&repo.to_string_lossy(), Some(&reference), &work, true)
            .await
            .unwrap_err()
            .to_string();
        assert!(!refused.contains("plantedsecret"), "{refused}");
        assert!(!work.join("src").exists(), "the source was cloned");
    }

    #[test]
    fn a_manifest_naming_a_local_source_is_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bale.toml"),
            "[source]\ngit = \"/root/.local/share/bale\"\n",
        )
        .unwrap();
        let refused = check_manifest_source(dir.path(), false).unwrap_err();
        assert!(refused.to_string().contains("[source] git"), "{refused}");
        assert!(check_manifest_source(dir.path(), true).is_ok());
        std::fs::write(
            dir.path().join("bale.toml"),
            "[source]\ngit = \"https://git.example.org/a.git\"\nref = \"--output=/tmp/x\"\n",
        )
        .unwrap();
        assert!(check_manifest_source(dir.path(), true).is_err());
    }
}
