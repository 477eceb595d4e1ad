//! A kind's defaults keep working when the app overrides part of them: its
//! `finalize` must not assume what the kind's own `main` would have made.
//! Built on the `host` stack, with the shipped kinds.

use bale_manifest::Kinds;

use crate::build::{said, Project};

/// A stdlib-only Python service: its own `main` installs one script and makes no venv.
const STDLIB_PYTHON_SERVICE: &str = r#"kind = "python"

[build]
main = [
  'mkdir -p "$BALE_PREFIX/bin"',
  'install -m 755 serve.py "$BALE_PREFIX/bin/serve"',
]

[test]
commands = ["serve --check"]
"#;

const SERVE_PY: &str = r#"#!/usr/bin/python3
import http.server, sys
if sys.argv[1:] == ["--check"]:
    print("serve: stdlib only,", http.server.__name__)
    sys.exit(0)
"#;

#[test]
fn python_finalize_does_not_fail_when_the_apps_own_main_made_no_venv() {
    let p = Project::new(STDLIB_PYTHON_SERVICE);
    p.write("serve.py", SERVE_PY);
    let (result, lines) = p.build();
    let built = result.unwrap_or_else(|e| panic!("the build failed: {e}"));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&built.facts_path).expect("read")).expect("json");
    let finalize = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == "finalize")
        .map(|s| s["status"].clone());
    assert_eq!(
        finalize,
        Some("ok".into()),
        "the kind's finalize ran and passed"
    );
    assert!(
        said(&lines, "test", "serve: stdlib only, http.server"),
        "{lines:?}"
    );
}

#[test]
fn every_kinds_finalize_passes_after_a_main_that_made_nothing() {
    let kinds = Kinds::builtin();
    for name in kinds.names() {
        if kinds.get(&name).is_some_and(|k| k.finalize.is_empty()) {
            continue;
        }
        let p = Project::new(&format!(
            "kind = \"{name}\"\n\n[build]\nmain = [\"true\"]\n"
        ));
        p.write("README", "nothing to build\n");
        if let Err(e) = p.build().0 {
            panic!("kind {name}: its finalize failed after an app's own main: {e}");
        }
    }
}
