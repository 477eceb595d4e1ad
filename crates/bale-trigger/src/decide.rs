//! Which pushed refs name a version to build: a branch `<name>-<version>`
//! (the Morphux convention) or a tag `v<version>`.

use bale_coordinate::check_name;
use bale_manifest::version_from_branch;
use serde::{Deserialize, Serialize};

use crate::error::TriggerError;

/// What accepted names look like, appended to every refusal.
const ACCEPTED: &str = "builds start from a branch `<name>-<version>` (e.g. `hello-1.2.0`) or a tag `v<version>` (e.g. `v1.2.0`)";

/// Whether a ref is a branch or a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefKind {
    /// `refs/heads/…`
    Branch,
    /// `refs/tags/…`
    Tag,
}

/// A push that names a version: what to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggeredBuild {
    /// Where to clone from (the repository's clone URL, or the watched remote).
    pub source: String,
    /// The branch or tag, short form (`hello-1.2.0`, `v1.3.0`): what `git clone --branch` and `bale submit --ref` take.
    pub git_ref: String,
    /// Whether `git_ref` is a branch or a tag.
    pub kind: RefKind,
    /// The pushed commit (40 hex digits).
    pub commit: String,
    /// The package name a branch names (`hello` for `hello-1.2.0`); `None` for a tag.
    pub name: Option<String>,
    /// The version to build.
    pub version: String,
}

impl TriggeredBuild {
    /// The full ref: `refs/heads/<git_ref>` or `refs/tags/<git_ref>`.
    pub fn full_ref(&self) -> String {
        match self.kind {
            RefKind::Branch => format!("refs/heads/{}", self.git_ref),
            RefKind::Tag => format!("refs/tags/{}", self.git_ref),
        }
    }

    /// Checks the trigger against the manifest's package name once the source is cloned:
    /// a branch must be `<package>-<version>`; returns the version to build.
    pub fn check_package(&self, package: &str) -> Result<String, TriggerError> {
        version_from_branch(package, &self.git_ref).map_err(|e| TriggerError::Refused {
            reason: e.to_string(),
        })
    }
}

/// Decides what a pushed ref (`refs/heads/…` or `refs/tags/…`) at `commit` builds, or why it builds nothing.
pub fn decide(source: &str, full_ref: &str, commit: &str) -> Result<TriggeredBuild, TriggerError> {
    let build = decide_version(source, full_ref, commit)?;
    // The ref reaches git on a worker: nothing git could misread gets that far.
    bale_manifest::git::check_ref(full_ref).map_err(|error| TriggerError::Refused {
        reason: format!("{error}; {ACCEPTED}"),
    })?;
    Ok(build)
}

/// The version a ref names, by the naming conventions alone.
fn decide_version(
    source: &str,
    full_ref: &str,
    commit: &str,
) -> Result<TriggeredBuild, TriggerError> {
    let refuse = |reason: String| TriggerError::Refused {
        reason: format!("{reason}; {ACCEPTED}"),
    };
    let build = |git_ref: &str, kind, name, version| TriggeredBuild {
        source: source.to_owned(),
        git_ref: git_ref.to_owned(),
        kind,
        commit: commit.to_owned(),
        name,
        version,
    };
    if let Some(branch) = full_ref.strip_prefix("refs/heads/") {
        let Some(name) = package_of_branch(branch) else {
            return Err(refuse(format!("branch `{branch}` does not name a version")));
        };
        check_name(name).map_err(|_| {
            refuse(format!("branch `{branch}`: `{name}` is not a package name (lowercase letters, digits, `.`, `_`, `-`)"))
        })?;
        let version = version_from_branch(name, branch)
            .map_err(|e| refuse(format!("branch `{branch}`: {}", reason_of(&e))))?;
        return Ok(build(
            branch,
            RefKind::Branch,
            Some(name.to_owned()),
            version,
        ));
    }
    if let Some(tag) = full_ref.strip_prefix("refs/tags/") {
        let is_v_tag = tag
            .strip_prefix('v')
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
        if !is_v_tag {
            return Err(refuse(format!("tag `{tag}` is not `v<version>`")));
        }
        // The name is only a placeholder here: a `v` tag never uses it.
        let version = version_from_branch("package", tag)
            .map_err(|e| refuse(format!("tag `{tag}`: {}", reason_of(&e))))?;
        return Ok(build(tag, RefKind::Tag, None, version));
    }
    Err(refuse(format!(
        "`{full_ref}` is neither a branch nor a tag"
    )))
}

/// The package part of `<name>-<version>`: everything before the first `-` that a digit follows.
/// Names may hold `-` and digits, but a version always starts with a digit.
fn package_of_branch(branch: &str) -> Option<&str> {
    let bytes = branch.as_bytes();
    (1..bytes.len())
        .find(|&i| bytes[i - 1] == b'-' && bytes[i].is_ascii_digit())
        .map(|i| &branch[..i - 1])
        .filter(|n| !n.is_empty())
}

/// The reason inside a manifest branch error, without its own advice (the refusal adds it).
fn reason_of(error: &bale_manifest::ManifestError) -> String {
    match error {
        bale_manifest::ManifestError::BranchVersion { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn refused(full_ref: &str) -> String {
        match decide("https://git.example/a.git", full_ref, COMMIT) {
            Err(TriggerError::Refused { reason }) => reason,
            other => panic!("{full_ref} was not refused: {other:?}"),
        }
    }

    #[test]
    fn a_branch_named_after_a_package_builds_that_package_s_version() {
        let build = decide(
            "https://git.example/a.git",
            "refs/heads/hello-1.2.0",
            COMMIT,
        )
        .unwrap();
        assert_eq!(build.git_ref, "hello-1.2.0");
        assert_eq!(build.kind, RefKind::Branch);
        assert_eq!(build.name.as_deref(), Some("hello"));
        assert_eq!(build.version, "1.2.0");
        assert_eq!(build.commit, COMMIT);
        assert_eq!(build.source, "https://git.example/a.git");
        assert_eq!(build.full_ref(), "refs/heads/hello-1.2.0");
    }

    #[test]
    fn a_package_name_with_dashes_and_a_version_with_a_suffix_split_at_the_first_digit() {
        let build = decide("s", "refs/heads/my-app-2.0-rc1", COMMIT).unwrap();
        assert_eq!(
            (build.name.as_deref(), build.version.as_str()),
            (Some("my-app"), "2.0-rc1")
        );
    }

    #[test]
    fn a_v_tag_builds_its_version_without_naming_a_package() {
        let build = decide("s", "refs/tags/v1.3.0", COMMIT).unwrap();
        assert_eq!(
            (build.git_ref.as_str(), build.kind, build.version.as_str()),
            ("v1.3.0", RefKind::Tag, "1.3.0")
        );
        assert_eq!(build.name, None);
        assert_eq!(build.full_ref(), "refs/tags/v1.3.0");
    }

    #[test]
    fn branches_without_a_version_are_refused_saying_what_is_accepted() {
        for (full_ref, says) in [
            ("refs/heads/main", "branch `main` does not name a version"),
            (
                "refs/heads/feature-x",
                "branch `feature-x` does not name a version",
            ),
            ("refs/heads/v1.0", "branch `v1.0` does not name a version"),
            ("refs/heads/Hello-1.0", "`Hello` is not a package name"),
            ("refs/heads/hello-1..2", "is not a version"),
        ] {
            let reason = refused(full_ref);
            assert!(reason.contains(says), "{full_ref}: {reason}");
            assert!(
                reason.contains("branch `<name>-<version>`") && reason.contains("tag `v<version>`"),
                "{reason}"
            );
        }
    }

    #[test]
    fn tags_other_than_v_version_and_other_refs_are_refused() {
        assert!(refused("refs/tags/release").contains("tag `release` is not `v<version>`"));
        assert!(refused("refs/tags/hello-1.0").contains("is not `v<version>`"));
        assert!(refused("refs/pull/3/head").contains("neither a branch nor a tag"));
        assert!(refused("refs/tags/v1.0.lock").contains("not a git branch, tag or commit"));
        assert!(refused("refs/heads/hello-1.0.").contains("not"));
    }

    #[test]
    fn a_trigger_is_checked_against_the_manifest_s_package_name() {
        let build = decide("s", "refs/heads/hello-1.2.0", COMMIT).unwrap();
        assert_eq!(build.check_package("hello").unwrap(), "1.2.0");
        let err = build.check_package("flaskr").unwrap_err().to_string();
        assert!(err.contains("does not name a version of `flaskr`"), "{err}");
        let tag = decide("s", "refs/tags/v2", COMMIT).unwrap();
        assert_eq!(tag.check_package("flaskr").unwrap(), "2");
    }
}
