//! The git values a manifest, a submitted build or a webhook may name
//! (`[source] git`, `[source] ref`), the rules they follow, and the options
//! every git call over them carries.
//!
//! A value that reaches git's command line must never be taken as an option
//! (`--upload-pack=…`, `--pathspec-from-file=…`) nor name a transport that
//! runs commands (`ext::`) or reads the machine's files (`file://`, a path)
//! where that is not wanted: these rules refuse such values before git runs,
//! and [`CONFIG_ARGS`], [`ENV`] and `--`/`--end-of-options` in every call
//! keep git from acting on them if one slipped through.

use crate::ManifestError;

/// Where a git source lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GitLocation {
    /// A network URL: `https://`, `http://`, `ssh://`, `git://` or scp-like `user@host:path`.
    Remote,
    /// A path or a `file://` URL on the machine that runs git.
    Local,
}

/// The URL schemes a remote source may use.
pub const REMOTE_SCHEMES: &[&str] = &["https", "http", "ssh", "git"];

/// Environment for every git call over a user's value: no prompt for a
/// password (a build must fail, not wait) and no system-wide configuration.
pub const ENV: [(&str, &str); 2] = [("GIT_TERMINAL_PROMPT", "0"), ("GIT_CONFIG_NOSYSTEM", "1")];

/// `-c` options for every git call over a user's value: the `ext::`
/// transport (runs a command) is never allowed.
pub const CONFIG_ARGS: [&str; 2] = ["-c", "protocol.ext.allow=never"];

/// `-c` options that forbid the `file` transport, for calls whose source
/// must not read this machine's repositories.
pub const NO_FILE_ARGS: [&str; 2] = ["-c", "protocol.file.allow=never"];

/// The `-c` options for a git call that reaches `location`: [`CONFIG_ARGS`],
/// plus [`NO_FILE_ARGS`] unless the source is local.
pub fn config_args(location: GitLocation) -> Vec<&'static str> {
    let mut args = CONFIG_ARGS.to_vec();
    if location == GitLocation::Remote {
        args.extend(NO_FILE_ARGS);
    }
    args
}

/// Checks a branch, tag, full ref (`refs/heads/…`) or commit id against
/// `git check-ref-format`'s rules, and refuses anything git could read as an option.
pub fn check_ref(reference: &str) -> Result<(), ManifestError> {
    ref_rule(reference).map_err(|reason| ManifestError::GitRef {
        reference: reference.to_owned(),
        reason: reason.to_owned(),
    })
}

/// The rule a ref breaks, if any.
pub(crate) fn ref_rule(reference: &str) -> Result<(), &'static str> {
    if reference.is_empty() {
        return Err("it is empty");
    }
    if reference.len() > 255 {
        return Err("it is longer than 255 characters");
    }
    if reference.starts_with('-') {
        return Err("it starts with `-`, which git would read as an option");
    }
    if reference
        .chars()
        .any(|c| c.is_control() || c.is_whitespace())
    {
        return Err("it holds a space or a control character");
    }
    if let Some(c) = reference
        .chars()
        .find(|c| matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\'))
    {
        return Err(match c {
            '~' | '^' => "it holds `~` or `^`; name a branch, tag or commit, not an expression",
            _ => "it holds one of `: ? * [ \\`",
        });
    }
    if reference.contains("..") || reference.contains("@{") || reference == "@" {
        return Err("it holds `..` or `@{`, or is `@`");
    }
    if reference.starts_with('/') || reference.ends_with('/') || reference.contains("//") {
        return Err("it starts or ends with `/`, or holds `//`");
    }
    if reference.ends_with('.') {
        return Err("it ends with `.`");
    }
    if reference
        .split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        return Err("a part of it starts with `.` or ends with `.lock`");
    }
    Ok(())
}

/// Whether `url` is a remote URL or a local repository; refuses what git
/// could read as an option or as a command-running transport.
pub fn locate(url: &str) -> Result<GitLocation, ManifestError> {
    url_rule(url).map_err(|reason| ManifestError::GitUrl {
        url: url.to_owned(),
        reason,
    })
}

/// Checks `url` and, unless `allow_local`, refuses a path or `file://` URL.
pub fn check_url(url: &str, allow_local: bool) -> Result<GitLocation, ManifestError> {
    let location = locate(url)?;
    if location == GitLocation::Local && !allow_local {
        return Err(ManifestError::LocalSource {
            url: url.to_owned(),
        });
    }
    Ok(location)
}

/// The location of `url`, or the rule it breaks.
pub(crate) fn url_rule(url: &str) -> Result<GitLocation, String> {
    if url.trim().is_empty() {
        return Err("it is empty".into());
    }
    if url.starts_with('-') {
        return Err("it starts with `-`, which git would read as an option".into());
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("it holds a space or a control character".into());
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "file" {
            return Ok(GitLocation::Local);
        }
        if !REMOTE_SCHEMES.contains(&scheme.as_str()) {
            return Err(format!(
                "the scheme `{scheme}://` is not one bale clones from; use https://, http://, ssh://, git:// or user@host:path"
            ));
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.is_empty() || host.starts_with('-') || authority.starts_with('-') {
            return Err("its host is empty or starts with `-`".into());
        }
        return Ok(GitLocation::Remote);
    }
    if url.contains("::") {
        return Err(
            "`<transport>::<address>` URLs are refused (the `ext::` transport runs commands); use https://, http://, ssh://, git:// or user@host:path".into(),
        );
    }
    // git's own test: a colon before the first slash makes an scp-like ssh address.
    let colon = url.find(':');
    let slash = url.find('/');
    if let Some(colon) = colon.filter(|c| slash.is_none_or(|s| *c < s)) {
        let authority = &url[..colon];
        let (user, host) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        let host_ok = !host.is_empty()
            && !host.starts_with('-')
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']'));
        let user_ok = user.is_none_or(|u| !u.is_empty() && !u.starts_with('-'));
        if !host_ok || !user_ok || url[colon + 1..].is_empty() {
            return Err(
                "it reads as an scp-like address `user@host:path` with a bad user, host or path"
                    .into(),
            );
        }
        return Ok(GitLocation::Remote);
    }
    Ok(GitLocation::Local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_git_accepts_pass() {
        for good in [
            "main",
            "v1.2.0",
            "hello-1.2.0",
            "refs/heads/hello-1.2.0",
            "refs/tags/v1",
            "feature/x_y",
            "HEAD",
            "0123456789abcdef0123456789abcdef01234567",
            &"ab".repeat(32),
        ] {
            assert!(check_ref(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn refs_that_git_could_read_as_options_or_expressions_are_refused() {
        for bad in [
            "--pathspec-from-file=/etc/shadow",
            "-b",
            "",
            "a b",
            "a\nb",
            "a\tb",
            "main~1",
            "main^",
            "a..b",
            "a@{1}",
            "@",
            "/main",
            "main/",
            "a//b",
            "main.",
            ".hidden",
            "a/.b",
            "x.lock",
            "a:b",
            "a*",
            "a?",
            "a[b",
            "a\\b",
            "a\u{7f}",
        ] {
            assert!(check_ref(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn remote_urls_are_told_from_local_ones() {
        for remote in [
            "https://git.example.org/app.git",
            "http://127.0.0.1:8080/app.git",
            "ssh://git@example.org:22/app.git",
            "git://example.org/app.git",
            "git@github.com:org/app.git",
            "example.org:app.git",
            "ssh://[::1]/app.git",
        ] {
            assert_eq!(locate(remote).unwrap(), GitLocation::Remote, "{remote}");
        }
        for local in [
            "/srv/git/app.git",
            "../app",
            "app.git",
            "file:///srv/git/app.git",
            "./a:b",
        ] {
            assert_eq!(locate(local).unwrap(), GitLocation::Local, "{local}");
        }
    }

    #[test]
    fn urls_git_could_read_as_options_or_commands_are_refused() {
        for bad in [
            "--upload-pack=touch /tmp/x",
            "-oProxyCommand=x:y",
            "ext::sh -c touch% /tmp/x",
            "ext::sh",
            "fd::3",
            "ftp://example.org/app.git",
            "ssh://-oProxyCommand=x/app",
            "ssh://user@-host/app",
            "-user@host:path",
            "user@-host:path",
            "host:",
            "https://example.org/a b",
            "",
        ] {
            assert!(locate(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn local_sources_pass_only_when_allowed() {
        assert!(check_url("/srv/git/app.git", true).is_ok());
        let refused = check_url("file:///srv/git/app.git", false)
            .unwrap_err()
            .to_string();
        assert!(refused.contains("--allow-local-sources"), "{refused}");
        assert!(check_url("https://example.org/app.git", false).is_ok());
    }

    #[test]
    fn file_transport_is_forbidden_for_remote_sources_only() {
        assert!(config_args(GitLocation::Remote).contains(&"protocol.file.allow=never"));
        assert!(!config_args(GitLocation::Local).contains(&"protocol.file.allow=never"));
        assert!(config_args(GitLocation::Local).contains(&"protocol.ext.allow=never"));
    }
}
