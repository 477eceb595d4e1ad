//! The source of a build on the worker's machine: a local directory used
//! as it is, or a git repository cloned at the asked ref.

use std::path::{Path, PathBuf};

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

/// Makes the source available under `work`: a git URL (or any source with a
/// ref) is cloned into `work/src`; a plain directory is used in place.
pub(crate) async fn prepare(
    source: &str,
    git_ref: Option<&str>,
    work: &Path,
) -> Result<Prepared, ServiceError> {
    if !is_git_url(source) && git_ref.is_none() {
        let dir = PathBuf::from(source);
        if !dir.join("bale.toml").is_file() {
            return Err(ServiceError::Source(format!(
                "{source} holds no bale.toml on this worker's machine; submit a git URL when workers run elsewhere"
            )));
        }
        let commit = git(&dir, &["rev-parse", "HEAD"]).await.ok();
        return Ok(Prepared { dir, commit });
    }
    let clone = work.join("src");
    let clone_text = clone.to_string_lossy().into_owned();
    git(
        work,
        &["clone", "--quiet", "--no-checkout", source, &clone_text],
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
        &["rev-parse", "--verify", &format!("{target}^{{commit}}")],
    )
    .await
    {
        Ok(commit) => commit,
        Err(_) => {
            git(
                &clone,
                &["rev-parse", "--verify", &format!("{remote}^{{commit}}")],
            )
            .await?
        }
    };
    git(
        &clone,
        &[
            "-c",
            "advice.detachedHead=false",
            "checkout",
            "--quiet",
            &resolved,
        ],
    )
    .await?;
    Ok(Prepared {
        dir: clone,
        commit: Some(resolved),
    })
}

async fn git(dir: &Path, args: &[&str]) -> Result<String, ServiceError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
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
