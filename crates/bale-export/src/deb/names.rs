//! How bale's names become Debian's (docs/exports.md, "Debian package").

use sha2::{Digest, Sha256};

use crate::ExportError;

/// The Debian package name of a bale package name: lower-case, `_` as `-`.
/// Bale names are `[a-z0-9][a-z0-9._-]*`, so the result is a valid Debian
/// name unless it is one character long, which Debian does not allow.
pub(crate) fn package_name(name: &str) -> Result<String, ExportError> {
    let mapped: String = name
        .chars()
        .map(|c| match c {
            '_' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let mut chars = mapped.chars();
    let valid = mapped.len() >= 2
        && matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.'));
    if valid {
        Ok(mapped)
    } else {
        Err(ExportError::Refused(format!(
            "`{name}` has no Debian package name: Debian names are at least two characters \
             of lower-case letters, digits, `+`, `-` and `.`; rename the package in bale.toml"
        )))
    }
}

/// The Debian version of a bale version: `-` as `~` (so `1.2.3-rc1`, a
/// pre-release, sorts before `1.2.3` as it does in bale), `_` as `.`. Bale
/// versions start with a digit and hold no `:`, so there is no epoch and no
/// Debian revision.
pub(crate) fn version(version: &str) -> Result<String, ExportError> {
    let mapped: String = version
        .chars()
        .map(|c| match c {
            '-' => '~',
            '_' => '.',
            c => c,
        })
        .collect();
    let valid = mapped.starts_with(|c: char| c.is_ascii_digit())
        && mapped
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~'));
    if valid {
        Ok(mapped)
    } else {
        Err(ExportError::Refused(format!(
            "`{version}` has no Debian version: it must start with a digit and use letters, \
             digits, `.`, `+`, `~`, `-` and `_`"
        )))
    }
}

/// Longest user name `useradd` takes.
const USER_NAME_MAX: usize = 32;

/// The system user the package's services and hooks run as: `bale-<name>`
/// with `.` as `-`; a name too long for `useradd` keeps its first 18
/// characters and gains 8 hex digits of its sha256.
pub(crate) fn user_name(package: &str) -> String {
    let base = package.replace(['.', '+'], "-");
    let user = format!("bale-{base}");
    if user.len() <= USER_NAME_MAX {
        return user;
    }
    let digest = Sha256::digest(package.as_bytes());
    let short: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    let head: String = base.chars().take(18).collect();
    format!("bale-{head}-{short}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underscores_become_hyphens_in_package_names() {
        assert_eq!(package_name("hello_c").expect("valid"), "hello-c");
        assert_eq!(package_name("lib.foo-2").expect("valid"), "lib.foo-2");
    }

    #[test]
    fn a_one_character_name_is_refused_with_the_reason() {
        let err = package_name("x").expect_err("refused").to_string();
        assert!(err.contains("at least two characters"), "{err}");
    }

    #[test]
    fn a_pre_release_sorts_before_its_release() {
        assert_eq!(version("1.2.3-rc1").expect("valid"), "1.2.3~rc1");
        assert_eq!(version("2.10").expect("valid"), "2.10");
        assert_eq!(version("1_0+git5").expect("valid"), "1.0+git5");
    }

    #[test]
    fn user_names_fit_useradd() {
        assert_eq!(user_name("hello-c"), "bale-hello-c");
        let long = user_name("a-very-long-package-name-that-goes-on");
        assert_eq!(long.len(), 32, "{long}");
        assert!(long.starts_with("bale-a-very-long-packag-"), "{long}");
    }
}
