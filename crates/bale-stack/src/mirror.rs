//! The Debian mirror this machine already uses, read from its apt sources.

use std::path::Path;

/// One `deb` source: where, which suites, which components.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    uri: String,
    suites: Vec<String>,
    components: Vec<String>,
}

/// The mirror for `suite` from the apt sources under `root` (`/` for the
/// host): `etc/apt/sources.list`, then `etc/apt/sources.list.d/*.list` and
/// deb822 `*.sources`, in name order. The first `deb` source carrying the
/// suite with component `main` wins; failing that, the first `deb` source
/// with `main` whose path ends in `/debian`.
pub fn mirror_from_sources(root: &Path, suite: &str) -> Option<String> {
    let mut sources = Vec::new();
    let apt = root.join("etc/apt");
    if let Ok(text) = std::fs::read_to_string(apt.join("sources.list")) {
        sources.extend(parse_one_line(&text));
    }
    if let Ok(entries) = std::fs::read_dir(apt.join("sources.list.d")) {
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            match f.extension().and_then(|e| e.to_str()) {
                Some("list") => sources.extend(parse_one_line(&text)),
                Some("sources") => sources.extend(parse_deb822(&text)),
                _ => {}
            }
        }
    }
    let main = |s: &&Source| s.components.iter().any(|c| c == "main");
    sources
        .iter()
        .filter(main)
        .find(|s| s.suites.iter().any(|x| x == suite))
        .or_else(|| {
            sources
                .iter()
                .filter(main)
                .find(|s| s.uri.trim_end_matches('/').ends_with("/debian"))
        })
        .map(|s| s.uri.trim_end_matches('/').to_string())
}

/// The host's mirror for `suite`.
pub fn host_mirror(suite: &str) -> Option<String> {
    mirror_from_sources(Path::new("/"), suite)
}

fn parse_one_line(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line
            .strip_prefix("deb ")
            .or_else(|| line.strip_prefix("deb\t"))
        else {
            continue;
        };
        let mut rest = rest.trim_start();
        if rest.starts_with('[') {
            let Some(end) = rest.find(']') else { continue };
            rest = rest[end + 1..].trim_start();
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(Source {
            uri: uri.to_string(),
            suites: vec![suite.to_string()],
            components: words.map(str::to_string).collect(),
        });
    }
    out
}

fn parse_deb822(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    for stanza in lines.split(|l| l.trim().is_empty()) {
        let field = |name: &str| -> Vec<String> {
            stanza
                .iter()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.split_whitespace().map(str::to_string).collect())
                })
                .unwrap_or_default()
        };
        let enabled = field("Enabled");
        if enabled
            .first()
            .is_some_and(|e| e.eq_ignore_ascii_case("no"))
            || !field("Types").iter().any(|t| t == "deb")
        {
            continue;
        }
        let Some(uri) = field("URIs").into_iter().next() else {
            continue;
        };
        out.push(Source {
            uri,
            suites: field("Suites"),
            components: field("Components"),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn deb822_sources_give_the_mirror_of_the_suite() {
        let root = root_with(&[(
            "etc/apt/sources.list.d/debian.sources",
            "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n",
        )]);
        assert_eq!(
            mirror_from_sources(root.path(), "bookworm").as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn third_party_sources_with_main_are_not_taken_for_debian() {
        let root = root_with(&[
            ("etc/apt/sources.list", "deb [signed-by=/k.gpg] https://vendor.example/apt vendor-bookworm main\n"),
            ("etc/apt/sources.list.d/a.sources", "Types: deb\nURIs: https://nodes.example/node_20.x\nSuites: nodistro\nComponents: main\n"),
            ("etc/apt/sources.list.d/z.list", "deb http://mirror.example/debian/ bookworm main contrib\n"),
        ]);
        assert_eq!(
            mirror_from_sources(root.path(), "bookworm").as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn a_debian_path_is_the_fallback_for_another_suite() {
        let root = root_with(&[(
            "etc/apt/sources.list",
            "deb http://mirror.example/debian bookworm main\n",
        )]);
        assert_eq!(
            mirror_from_sources(root.path(), "trixie").as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn disabled_and_source_only_entries_are_skipped() {
        let root = root_with(&[(
            "etc/apt/sources.list.d/d.sources",
            "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n\nEnabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\n",
        )]);
        assert_eq!(mirror_from_sources(root.path(), "bookworm"), None);
    }
}
