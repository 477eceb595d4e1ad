//! `bale init`: pick a kind from a source tree and write a starting,
//! commented bale.toml that `bale check` accepts as it is.

use std::fmt::Write;
use std::path::Path;

use crate::kinds::Kinds;

/// Files that mark each kind, most specific first: a Makefile is common
/// beside other tools, so C comes after the languages with their own marker.
const MARKERS: &[(&str, &[&str])] = &[
    ("rust", &["Cargo.toml"]),
    ("go", &["go.mod"]),
    ("python", &["pyproject.toml", "requirements.txt"]),
    ("ruby", &["Gemfile"]),
    ("node", &["package.json"]),
    ("c", &["configure", "configure.ac", "Makefile"]),
];

/// Top-level entries never worth packaging.
const SKIPPED: &[&str] = &["bale.toml", "venv", "__pycache__", "node_modules", "target"];

/// The kind of the source tree in `dir`; `static` when nothing marks one.
pub fn detect_kind(dir: &Path) -> &'static str {
    MARKERS
        .iter()
        .find(|(_, files)| files.iter().any(|f| dir.join(f).is_file()))
        .map_or("static", |(kind, _)| kind)
}

/// The directory's name turned into a valid package name (`app` when nothing is left).
fn package_name(dir: &Path) -> String {
    let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
    let raw = absolute
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let mapped: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = mapped.trim_start_matches(['.', '_', '-']);
    let name: String = name.chars().take(128).collect();
    if name.is_empty() {
        "app".to_owned()
    } else {
        name
    }
}

/// The top-level entries of `dir` worth copying into the package, sorted.
fn top_level(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    !n.starts_with('.')
                        && !SKIPPED.contains(&n.as_str())
                        && !n.ends_with(".egg-info")
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn quoted(items: &[String]) -> String {
    let items: Vec<String> = items
        .iter()
        .map(|i| toml_edit::Value::from(i.as_str()).to_string())
        .collect();
    format!("[{}]", items.join(", "))
}

/// What each kind's starter differs in.
struct Starter {
    network: bool,
    destinations: Vec<String>,
    before: Vec<String>,
    build_packages: Vec<String>,
    web: Option<String>,
}

fn starter(kind: &str, dir: &Path, name: &str) -> Starter {
    let has = |file: &str| dir.join(file).is_file();
    let files = top_level(dir);
    let mut s = Starter {
        network: true,
        destinations: Vec::new(),
        before: Vec::new(),
        build_packages: Vec::new(),
        web: None,
    };
    match kind {
        "python" => {
            s.destinations = files;
            if has("app.py") {
                s.web = Some("$BALE_PREFIX/lib/venv/bin/python app.py".to_owned());
            }
        }
        "node" => {
            s.destinations = files;
            s.destinations.push("node_modules".to_owned());
            let package_json =
                std::fs::read_to_string(dir.join("package.json")).unwrap_or_default();
            if package_json.contains("\"start\"") {
                s.web = Some("npm start".to_owned());
            }
        }
        "ruby" => {
            s.destinations = files;
            s.destinations
                .extend([".bundle".to_owned(), "vendor/bundle".to_owned()]);
            if has("config.ru") {
                s.web = Some("bundle exec rackup -o 0.0.0.0 -p $PORT".to_owned());
            }
        }
        "c" => {
            s.network = false;
            if !has("configure") && has("configure.ac") {
                s.before.push("autoreconf -fi".to_owned());
                s.build_packages = ["autoconf", "automake", "libtool"]
                    .map(str::to_owned)
                    .to_vec();
            }
        }
        "rust" | "go" => s.web = Some(format!("$BALE_PREFIX/bin/{name}")),
        _ => {
            s.network = false;
            s.destinations = files;
        }
    }
    s.destinations.sort();
    s.destinations.dedup();
    s
}

/// A commented starting bale.toml for the source tree in `dir`.
pub fn starter_manifest(dir: &Path) -> String {
    let kind = detect_kind(dir);
    let name = package_name(dir);
    let s = starter(kind, dir, &name);
    let default_main = Kinds::builtin()
        .get(kind)
        .map(|k| k.main.clone())
        .unwrap_or_default();
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "# bale.toml: how bale builds, packages and runs this application."
    );
    let _ = writeln!(
        w,
        "# `bale check` validates it; every field is described in the manifest reference.\n"
    );
    let _ = writeln!(w, "[package]");
    let _ = writeln!(
        w,
        "group = \"org.example\"   # dotted, like a Maven groupId"
    );
    let _ = writeln!(w, "name = \"{name}\"");
    let _ = writeln!(
        w,
        "version = \"0.1.0\"       # a git branch `{name}-<version>` overrides it"
    );
    let _ = writeln!(
        w,
        "# description = \"\"\n# license = \"\"   # SPDX expression\n"
    );
    let _ = writeln!(w, "[stack]");
    let _ = writeln!(
        w,
        "name = \"debian-bookworm\"   # base system image, see `bale stack list`"
    );
    let _ = writeln!(
        w,
        "kind = \"{kind}\"   # runtime packages and default build actions\n"
    );
    let _ = writeln!(w, "[dependencies]");
    let _ = writeln!(
        w,
        "build = {}     # Debian packages present during the build only",
        quoted(&s.build_packages)
    );
    let _ = writeln!(
        w,
        "runtime = []   # Debian packages present wherever the package runs\n"
    );
    let _ = writeln!(w, "[build]");
    if s.network {
        let _ = writeln!(
            w,
            "network = true   # the {kind} tools download dependencies"
        );
    } else {
        let _ = writeln!(w, "network = false");
    }
    if !s.before.is_empty() {
        let _ = writeln!(w, "before = {}", quoted(&s.before));
    }
    if default_main.is_empty() {
        let _ = writeln!(w, "# main = []   # the {kind} kind has no default actions");
    } else {
        let _ = writeln!(w, "# main: unset, so the {kind} kind's default runs:");
        for line in default_main.iter().flat_map(|action| action.lines()) {
            let _ = writeln!(w, "#   {line}");
        }
    }
    let _ = writeln!(
        w,
        "# Copied from the source tree into the package's app/ directory:"
    );
    let _ = writeln!(w, "destinations = {}", quoted(&s.destinations));
    let _ = writeln!(w, "# timeout = \"1h\"\n");
    let _ = writeln!(w, "[run]");
    let _ = writeln!(w, "workdir = \"app\"\n");
    match &s.web {
        Some(command) => {
            let _ = writeln!(w, "[run.services]");
            let _ = writeln!(
                w,
                "web = {}   # serves on $PORT",
                toml_edit::Value::from(command.as_str())
            );
            let _ = writeln!(w, "\n[kits.web]");
            let _ = writeln!(w, "main = true");
            let _ = writeln!(w, "ports = [{{ name = \"http\", port = 8080 }}]");
            let _ = writeln!(w, "# health = {{ http = \"/\", timeout = \"30s\" }}");
        }
        None => {
            let _ = writeln!(w, "# [run.services]");
            let _ = writeln!(
                w,
                "# web = \"...\"   # a long-lived process serving on $PORT"
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names_become_valid_package_names() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("_My Cool App!");
        std::fs::create_dir(&odd).unwrap();
        assert_eq!(package_name(&odd), "my-cool-app-");
        let only_symbols = dir.path().join("__");
        std::fs::create_dir(&only_symbols).unwrap();
        assert_eq!(package_name(&only_symbols), "app");
    }
}
