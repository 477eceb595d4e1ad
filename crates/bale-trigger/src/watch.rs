//! Polling a git remote for pushed branches and tags, for when no webhook
//! can reach the service.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bale_manifest::git;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::decide::{decide, TriggeredBuild};
use crate::error::TriggerError;

/// A remote being watched, and where the refs it had last time are kept.
#[derive(Debug, Clone)]
pub struct Watch {
    remote: String,
    state_file: PathBuf,
}

/// What changed on the remote since the last poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Poll {
    /// New or moved refs that name a version: builds to queue.
    pub triggers: Vec<TriggeredBuild>,
    /// New or moved refs that do not, with the reason.
    pub refused: Vec<Refusal>,
}

/// A ref that changed but names no version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// The full ref, e.g. `refs/heads/feature-x`.
    pub full_ref: String,
    /// The commit it points to.
    pub commit: String,
    /// Why it builds nothing, and which names would.
    pub reason: String,
}

/// The state file: the refs seen at the last poll.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Seen {
    remote: String,
    refs: BTreeMap<String, String>,
}

impl Watch {
    /// Watches `remote` (anything `git ls-remote` takes), keeping its state in `state_dir`
    /// (one file per remote, named after a hash of it).
    pub fn new(remote: impl Into<String>, state_dir: &Path) -> Self {
        let remote = remote.into();
        let digest = hex::encode(Sha256::digest(remote.as_bytes()));
        let state_file = state_dir.join(format!("{}.json", &digest[..16]));
        Self { remote, state_file }
    }

    /// The remote watched.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// The file holding the refs seen last time.
    pub fn state_file(&self) -> &Path {
        &self.state_file
    }

    /// Lists the remote's branches and tags, returns those that are new or moved since the
    /// last poll (on the first poll, every one), and records what it saw.
    pub fn poll(&self) -> Result<Poll, TriggerError> {
        let current = self.list_refs()?;
        let mut seen = self.load()?;
        let mut poll = Poll::default();
        for (full_ref, commit) in &current {
            if seen.refs.get(full_ref) == Some(commit) {
                continue;
            }
            match decide(&self.remote, full_ref, commit) {
                Ok(build) => poll.triggers.push(build),
                Err(TriggerError::Refused { reason }) => poll.refused.push(Refusal {
                    full_ref: full_ref.clone(),
                    commit: commit.clone(),
                    reason,
                }),
                Err(other) => return Err(other),
            }
        }
        // Deleted refs drop out, so a ref pushed again later is new again.
        seen.refs = current;
        seen.remote.clone_from(&self.remote);
        self.save(&seen)?;
        Ok(poll)
    }

    /// Forgets a ref (full form, see [`TriggeredBuild::full_ref`]), so the next poll offers it
    /// again, e.g. after its build could not be submitted.
    pub fn forget(&self, full_ref: &str) -> Result<(), TriggerError> {
        let mut seen = self.load()?;
        if seen.refs.remove(full_ref).is_some() {
            self.save(&seen)?;
        }
        Ok(())
    }

    fn list_refs(&self) -> Result<BTreeMap<String, String>, TriggerError> {
        let fail = |reason: String| TriggerError::Git {
            remote: self.remote.clone(),
            reason,
        };
        let location = git::locate(&self.remote).map_err(|e| fail(e.to_string()))?;
        let output = Command::new("git")
            .args(git::config_args(location))
            .args(["ls-remote", "--heads", "--tags", "--", &self.remote])
            // A remote that wants a password must fail, not wait for one.
            .envs(git::ENV)
            .env("GIT_ASKPASS", "true")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run git ({e}); install git")))?;
        if !output.status.success() {
            return Err(fail(
                String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            ));
        }
        parse_ls_remote(&String::from_utf8_lossy(&output.stdout)).map_err(fail)
    }

    fn load(&self) -> Result<Seen, TriggerError> {
        let fail = |reason: String| TriggerError::State {
            path: self.state_file.clone(),
            reason,
        };
        match std::fs::read(&self.state_file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Seen::default()),
            Err(e) => Err(fail(e.to_string())),
        }
    }

    fn save(&self, seen: &Seen) -> Result<(), TriggerError> {
        let fail = |reason: String| TriggerError::State {
            path: self.state_file.clone(),
            reason,
        };
        let dir = self.state_file.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
        let text = serde_json::to_vec_pretty(seen).map_err(|e| fail(e.to_string()))?;
        // Written beside and renamed, so a crash never leaves half a state file.
        bale_fs::write_atomic(&self.state_file, &text).map_err(|e| fail(e.source.to_string()))
    }
}

/// Reads `git ls-remote` output (`<commit>\t<ref>` lines). An annotated tag's peeled line
/// (`refs/tags/v1^{}`) gives the commit the tag points to, which is what gets built.
fn parse_ls_remote(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut refs = BTreeMap::new();
    let mut peeled = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (commit, full_ref) = line
            .split_once('\t')
            .ok_or_else(|| format!("unexpected line from git ls-remote: `{line}`"))?;
        match full_ref.strip_suffix("^{}") {
            Some(tag) => peeled.push((tag.to_owned(), commit.to_owned())),
            None => {
                refs.insert(full_ref.to_owned(), commit.to_owned());
            }
        }
    }
    for (tag, commit) in peeled {
        refs.insert(tag, commit);
    }
    Ok(refs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_annotated_tag_is_recorded_at_its_commit_not_the_tag_object() {
        let text = "1111111111111111111111111111111111111111\trefs/heads/hello-1.0\n\
                    2222222222222222222222222222222222222222\trefs/tags/v1.0\n\
                    3333333333333333333333333333333333333333\trefs/tags/v1.0^{}\n";
        let refs = parse_ls_remote(text).unwrap();
        assert_eq!(refs.len(), 2);
        assert_eq!(
            refs["refs/tags/v1.0"],
            "3333333333333333333333333333333333333333"
        );
        assert_eq!(
            refs["refs/heads/hello-1.0"],
            "1111111111111111111111111111111111111111"
        );
    }

    #[test]
    fn garbage_from_git_is_an_error() {
        assert!(parse_ls_remote("not a ref line").is_err());
    }
}
