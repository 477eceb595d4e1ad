//! Rules that single values and lists must follow, kept apart from the
//! walk that reads them so each rule is one small function.

use std::collections::BTreeMap;

use crate::diagnostics::Diagnostic;
use crate::walk::{Spanned, Walk};

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (distance(word, candidate), candidate))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// Edit distance where swapping two neighbouring characters counts once (`mian` → `main`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// "did you mean `x`? known X: a, b" for a value that must be one of `known`.
pub(crate) fn one_of_help(word: &str, known: &[String], what: &str) -> String {
    let list = if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    };
    match suggest(word, known.iter().map(String::as_str)) {
        Some(close) => format!("did you mean `{close}`? known {what}: {list}"),
        None => format!("known {what}: {list}"),
    }
}

/// Names of services, commands, kits and ports: `[a-z0-9][a-z0-9_-]*`, as they become file names.
pub(crate) fn check_ident(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = name.len() <= 64
        && matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err("use lower-case letters, digits, `_` and `-`, starting with a letter or digit (at most 64)".to_owned())
    }
}

/// Environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(
            "use letters, digits and `_`, not starting with a digit, like `DATABASE_URL`"
                .to_owned(),
        )
    }
}

/// Paths inside the source tree or the package: relative and never climbing out.
pub(crate) fn check_relative(path: &str) -> Result<(), String> {
    if path.is_empty() {
        Err("write a path, like `app`".to_owned())
    } else if path.starts_with('/') {
        Err("it must be relative, without a leading `/`".to_owned())
    } else if path.split('/').any(|part| part == "..") {
        Err("it must not contain `..`: it may not point outside the tree".to_owned())
    } else {
        Ok(())
    }
}

/// Paths in the build sandbox, such as cache directories: absolute.
pub(crate) fn check_absolute(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        Err("it must be an absolute path, like `/root/.cache/pip`".to_owned())
    } else if path.split('/').any(|part| part == "..") {
        Err("it must not contain `..`".to_owned())
    } else {
        Ok(())
    }
}

/// One Debian package name per entry, by Debian policy's rule
/// (`[a-z0-9][a-z0-9+.-]+`): the name reaches apt's command line in the
/// sandbox, so nothing else may pass.
pub(crate) fn check_package_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '-'));
    if name.trim().is_empty() {
        Err("it is empty; write a Debian package name like `libpq5`".to_owned())
    } else if name.contains(char::is_whitespace) {
        Err("list each package as its own string, e.g. [\"libpq-dev\", \"libpq5\"]".to_owned())
    } else if !first_ok || !rest_ok || name.len() < 2 {
        Err("a Debian package name is lower-case letters, digits, `+`, `.` and `-`, at least two long and starting with a letter or digit, like `libpq5` or `g++`".to_owned())
    } else {
        Ok(())
    }
}

/// `[source] ref`: a branch, tag or commit git cannot read as an option.
pub(crate) fn check_git_ref(reference: &str) -> Result<(), String> {
    crate::git::ref_rule(reference).map_err(|reason| {
        format!(
            "{reason}; name a branch, tag or commit like `main`, `v1.2.0` or a 40-hex commit id"
        )
    })
}

/// `[source] git`: a URL of a scheme bale clones from, or a local path.
pub(crate) fn check_git_url(url: &str) -> Result<(), String> {
    crate::git::url_rule(url).map(|_| ()).map_err(|reason| {
        format!("{reason}; write a https://, http://, ssh://, git:// or user@host:path URL, or the path of a local repository")
    })
}

/// Reports a value that breaks `rule`: the message names the field, the help the rule.
pub(crate) fn check(
    walk: &mut Walk,
    value: &Spanned<String>,
    what: &str,
    rule: fn(&str) -> Result<(), String>,
) {
    if let Err(help) = rule(&value.value) {
        walk.report(
            Diagnostic::new(
                value.span.clone(),
                format!("`{}` is not a valid {what}", value.value),
                format!("invalid {what}"),
            )
            .help(help),
        );
    }
}

/// Reports every value of `items` that repeats an earlier one; `what` names the list in messages.
pub(crate) fn no_duplicates(walk: &mut Walk, items: &[Spanned<String>], what: &str) {
    let mut first: BTreeMap<&str, &Spanned<String>> = BTreeMap::new();
    for item in items {
        match first.get(item.value.as_str()) {
            Some(earlier) => walk.report(
                Diagnostic::new(
                    item.span.clone(),
                    format!("`{}` is listed twice in {what}", item.value),
                    "listed again here",
                )
                .related(earlier.span.clone(), "first listed here")
                .help(format!("remove one of the two `{}`", item.value)),
            ),
            None => {
                first.insert(&item.value, item);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_words_are_suggested_and_far_ones_are_not() {
        assert_eq!(suggest("bild", ["build", "test"]), Some("build"));
        assert_eq!(
            suggest("post-instal", ["post-install", "deploy"]),
            Some("post-install")
        );
        assert_eq!(suggest("mian", ["main", "after"]), Some("main"));
        assert_eq!(suggest("zzz", ["build", "test"]), None);
    }

    #[test]
    fn names_follow_their_rules() {
        assert!(check_ident("web-1").is_ok());
        assert!(check_ident("Web").is_err());
        assert!(check_env_name("DATABASE_URL").is_ok());
        assert!(check_env_name("1X").is_err());
        assert!(check_relative("app/../..").is_err());
        assert!(check_absolute("root/.cache").is_err());
        assert!(check_package_name("libpq-dev libpq5").is_err());
    }

    #[test]
    fn debian_package_names_follow_debian_s_rule() {
        for good in ["libpq5", "g++", "python3.11", "libstdc++6", "0ad"] {
            assert!(check_package_name(good).is_ok(), "{good}");
        }
        for bad in [
            "curl;id",
            "curl$(id)",
            "a|b",
            "`id`",
            "-y",
            "+x",
            "Libpq",
            "x",
            "pkg:amd64",
            "a&b",
            "a>b",
        ] {
            assert!(check_package_name(bad).is_err(), "{bad} passed");
        }
    }
}
