//! Kinds: admin data (the shipped `kinds.toml`, optionally overridden) that
//! gives each kind of application its packages and default build actions.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml_edit::ImDocument;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::error::ManifestError;
use crate::walk::{Section, Spanned, Walk};

/// The kinds file shipped with bale.
pub const SHIPPED_KINDS: &str = include_str!("kinds.toml");

const KIND_FIELDS: &[&str] = &["runtime", "build", "before", "main", "after", "finalize"];

/// One kind: what it installs and what it runs by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kind {
    /// Debian packages present wherever the package runs.
    pub runtime: Vec<String>,
    /// Debian packages present during the build only.
    pub build: Vec<String>,
    /// Default `[build] before` actions.
    #[serde(default)]
    pub before: Vec<String>,
    /// Default `[build] main` actions.
    pub main: Vec<String>,
    /// Default `[build] after` actions.
    #[serde(default)]
    pub after: Vec<String>,
    /// Default `[build] finalize` actions.
    pub finalize: Vec<String>,
}

/// Every known kind, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kinds {
    kinds: BTreeMap<String, Kind>,
}

/// A kind as written in a file: only the fields it sets.
#[derive(Default)]
struct KindFields {
    runtime: Option<Vec<String>>,
    build: Option<Vec<String>>,
    before: Option<Vec<String>>,
    main: Option<Vec<String>>,
    after: Option<Vec<String>>,
    finalize: Option<Vec<String>>,
}

impl Kinds {
    /// The kinds shipped with bale.
    pub fn builtin() -> Self {
        let mut kinds = Kinds::default();
        // The shipped file is part of this crate and a test proves it parses.
        if let Ok(fields) = read("<shipped kinds.toml>", SHIPPED_KINDS) {
            kinds.merge(fields);
        }
        kinds
    }

    /// The shipped kinds with `override_file` (an admin's kinds file) merged over them.
    pub fn load(override_file: Option<&Path>) -> Result<Self, ManifestError> {
        let mut kinds = Self::builtin();
        if let Some(path) = override_file {
            let text =
                std::fs::read_to_string(path).map_err(|source| ManifestError::KindsRead {
                    path: path.to_owned(),
                    source,
                })?;
            let fields = read(&path.display().to_string(), &text).map_err(|d| {
                ManifestError::KindsInvalid {
                    path: path.to_owned(),
                    reason: d.render(false),
                }
            })?;
            kinds.merge(fields);
        }
        Ok(kinds)
    }

    /// The shipped kinds with the admin's kinds file at `path` merged over
    /// them when that file exists (e.g. `$BALE_HOME/kinds.toml`).
    pub fn load_if_present(path: &Path) -> Result<Self, ManifestError> {
        Self::load(path.is_file().then_some(path))
    }

    /// The kind called `name`.
    pub fn get(&self, name: &str) -> Option<&Kind> {
        self.kinds.get(name)
    }

    /// Every kind's name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.kinds.keys().cloned().collect()
    }

    /// Adds or replaces a kind.
    pub fn insert(&mut self, name: impl Into<String>, kind: Kind) {
        self.kinds.insert(name.into(), kind);
    }

    /// Each kind in `fields` replaces the fields it sets; unknown kinds are added.
    fn merge(&mut self, fields: BTreeMap<String, KindFields>) {
        for (name, set) in fields {
            let kind = self.kinds.entry(name).or_default();
            let KindFields {
                runtime,
                build,
                before,
                main,
                after,
                finalize,
            } = set;
            for (slot, value) in [
                (&mut kind.runtime, runtime),
                (&mut kind.build, build),
                (&mut kind.before, before),
                (&mut kind.main, main),
                (&mut kind.after, after),
                (&mut kind.finalize, finalize),
            ] {
                if let Some(value) = value {
                    *slot = value;
                }
            }
        }
    }
}

/// Reads a kinds file, reporting every problem in it.
fn read(origin: &str, text: &str) -> Result<BTreeMap<String, KindFields>, Diagnostics> {
    let doc = ImDocument::parse(text).map_err(|e| {
        let diagnostic = Diagnostic::new(e.span(), e.message().replace('\n', ": "), "here");
        Diagnostics::new(origin, text, vec![diagnostic])
    })?;
    let mut walk = Walk::default();
    let root = Section::root(doc.as_table());
    let mut out = BTreeMap::new();
    for (name, _) in doc.iter() {
        let Some(section) = walk.table(&root, name) else {
            continue;
        };
        walk.known_fields(&section, KIND_FIELDS, "field");
        let mut list = |key: &str| {
            walk.strings(&section, key, "[\"...\"]")
                .map(|l| l.into_iter().map(|s: Spanned<String>| s.value).collect())
        };
        let fields = KindFields {
            runtime: list("runtime"),
            build: list("build"),
            before: list("before"),
            main: list("main"),
            after: list("after"),
            finalize: list("finalize"),
        };
        out.insert(name.to_owned(), fields);
    }
    if walk.diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics::new(origin, text, walk.diags))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_parses_and_holds_every_kind_of_the_spec() {
        let fields = read("kinds.toml", SHIPPED_KINDS).expect("shipped kinds.toml parses");
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["c", "go", "node", "python", "ruby", "rust", "static"]
        );
        let kinds = Kinds::builtin();
        assert_eq!(
            kinds.get("python").unwrap().runtime,
            ["python3", "python3-venv"]
        );
        assert_eq!(kinds.get("c").unwrap().build, ["build-essential"]);
        assert!(kinds.get("c").unwrap().runtime.is_empty());
    }

    #[test]
    fn compilers_are_build_packages_and_interpreters_runtime_packages() {
        let kinds = Kinds::builtin();
        for (kind, build) in [
            ("c", "build-essential"),
            ("go", "golang"),
            ("rust", "cargo"),
        ] {
            let kind = kinds.get(kind).unwrap();
            assert_eq!(kind.build, [build]);
            assert!(kind.runtime.is_empty(), "{build} is needed to build only");
        }
        for (kind, runtime) in [
            ("python", ["python3", "python3-venv"]),
            ("node", ["nodejs", "npm"]),
            ("ruby", ["ruby", "bundler"]),
        ] {
            assert_eq!(kinds.get(kind).unwrap().runtime, runtime);
        }
        assert!(kinds.get("static").unwrap().main.is_empty());
    }

    #[test]
    fn an_override_replaces_only_the_fields_it_sets_and_adds_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kinds.toml");
        std::fs::write(
            &path,
            "[node]\nmain = [\"npm ci\"]\n[php]\nruntime = [\"php\"]\n",
        )
        .unwrap();
        let kinds = Kinds::load(Some(&path)).unwrap();
        let node = kinds.get("node").unwrap();
        assert_eq!(node.main, ["npm ci"]);
        assert_eq!(node.runtime, ["nodejs", "npm"]);
        assert_eq!(kinds.get("php").unwrap().runtime, ["php"]);
    }

    #[test]
    fn an_admin_kind_may_set_before_and_after_actions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kinds.toml");
        std::fs::write(
            &path,
            "[c]\nbefore = [\"autoreconf -fi\"]\nafter = [\"strip $BALE_PREFIX/bin/*\"]\n",
        )
        .unwrap();
        let kinds = Kinds::load(Some(&path)).unwrap();
        let c = kinds.get("c").unwrap();
        assert_eq!(c.before, ["autoreconf -fi"]);
        assert_eq!(c.after, ["strip $BALE_PREFIX/bin/*"]);
        assert_eq!(
            c.build,
            ["build-essential"],
            "the fields it does not set stay"
        );
        assert!(Kinds::builtin().get("c").unwrap().before.is_empty());
    }

    #[test]
    fn an_absent_admin_file_leaves_the_shipped_kinds() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Kinds::load_if_present(&dir.path().join("kinds.toml")).unwrap(),
            Kinds::builtin()
        );
        std::fs::write(
            dir.path().join("kinds.toml"),
            "[static]\nmain = [\"true\"]\n",
        )
        .unwrap();
        let kinds = Kinds::load_if_present(&dir.path().join("kinds.toml")).unwrap();
        assert_eq!(kinds.get("static").unwrap().main, ["true"]);
    }

    #[test]
    fn a_bad_override_says_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kinds.toml");
        std::fs::write(&path, "[node]\nmian = [\"npm ci\"]\n").unwrap();
        let error = Kinds::load(Some(&path)).unwrap_err().to_string();
        assert!(error.contains("unknown field `mian` in [node]"), "{error}");
        assert!(error.contains("did you mean `main`?"), "{error}");
    }
}
