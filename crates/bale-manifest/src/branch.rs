//! Versions carried by git branch and tag names.

use bale_coordinate::check_version;

use crate::error::ManifestError;

/// The version named by a branch `<name>-<version>` or a tag `v<version>` (a `refs/heads/` or `refs/tags/` prefix is ignored).
pub fn version_from_branch(name: &str, branch: &str) -> Result<String, ManifestError> {
    let fail = |reason: String| ManifestError::BranchVersion {
        name: name.to_owned(),
        branch: branch.to_owned(),
        reason,
    };
    let short = branch
        .strip_prefix("refs/heads/")
        .or_else(|| branch.strip_prefix("refs/tags/"))
        .unwrap_or(branch);
    if short.is_empty() {
        return Err(fail("it is empty".to_owned()));
    }
    let prefix = format!("{name}-");
    let version = if let Some(rest) = short.strip_prefix(&prefix) {
        rest
    } else if let Some(rest) = short
        .strip_prefix('v')
        .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
    {
        rest
    } else {
        return Err(fail(format!(
            "it neither starts with `{prefix}` nor is `v` followed by a version"
        )));
    };
    if version.is_empty() {
        return Err(fail(format!("nothing follows `{prefix}`")));
    }
    check_version(version).map_err(|_| {
        fail(format!("`{version}` is not a version (it must start with a digit and use only letters, digits, `.`, `+`, `~`, `_` and `-`)"))
    })?;
    Ok(version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_branch_named_after_the_package_gives_its_version() {
        assert_eq!(
            version_from_branch("flaskr", "flaskr-1.2.0").unwrap(),
            "1.2.0"
        );
        assert_eq!(
            version_from_branch("my-app", "refs/heads/my-app-2.0-rc1").unwrap(),
            "2.0-rc1"
        );
    }

    #[test]
    fn a_v_tag_gives_its_version() {
        assert_eq!(version_from_branch("flaskr", "v1.0.0").unwrap(), "1.0.0");
        assert_eq!(version_from_branch("flaskr", "refs/tags/v3").unwrap(), "3");
    }

    #[test]
    fn other_branches_are_refused_with_the_reason() {
        let main = version_from_branch("flaskr", "main")
            .unwrap_err()
            .to_string();
        assert!(main.contains("neither starts with `flaskr-`"), "{main}");
        let bad = version_from_branch("flaskr", "flaskr-next")
            .unwrap_err()
            .to_string();
        assert!(bad.contains("`next` is not a version"), "{bad}");
        let empty = version_from_branch("flaskr", "flaskr-")
            .unwrap_err()
            .to_string();
        assert!(empty.contains("nothing follows"), "{empty}");
        assert!(version_from_branch("flaskr", "other-1.0").is_err());
        assert!(version_from_branch("flaskr", "vnext").is_err());
    }
}
