//! `bale init`: the kind is detected from the tree, and the starting
//! manifest of every kind is accepted by the parser as it is.

use crate::common;

use bale_manifest::{detect_kind, starter_manifest};
use common::parse;

/// A source tree holding the given files.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

const TREES: &[(&str, &[(&str, &str)])] = &[
    ("python", &[("requirements.txt", "flask\n"), ("app.py", "")]),
    (
        "python",
        &[
            ("pyproject.toml", "[project]\nname = \"x\"\n"),
            ("x/__init__.py", ""),
        ],
    ),
    (
        "node",
        &[
            (
                "package.json",
                "{\"scripts\": {\"start\": \"node index.js\"}}",
            ),
            ("index.js", ""),
        ],
    ),
    (
        "ruby",
        &[
            ("Gemfile", "source 'https://rubygems.org'\n"),
            ("config.ru", ""),
        ],
    ),
    ("c", &[("configure", "#!/bin/sh\n"), ("main.c", "")]),
    ("c", &[("configure.ac", "AC_INIT\n")]),
    ("c", &[("Makefile", "all:\n")]),
    (
        "rust",
        &[("Cargo.toml", "[package]\n"), ("Makefile", "all:\n")],
    ),
    ("go", &[("go.mod", "module x\n")]),
    ("static", &[("index.html", "<p>hi</p>")]),
    ("static", &[]),
];

#[test]
fn the_kind_is_detected_from_marker_files() {
    for (kind, files) in TREES {
        let dir = tree(files);
        assert_eq!(detect_kind(dir.path()), *kind, "{files:?}");
    }
}

#[test]
fn the_starting_manifest_of_every_kind_is_accepted() {
    for (kind, files) in TREES {
        let dir = tree(files);
        let text = starter_manifest(dir.path());
        let manifest =
            parse(&text).unwrap_or_else(|d| panic!("{kind}:\n{}\n{text}", d.render(false)));
        assert_eq!(manifest.stack.kind.as_deref(), Some(*kind));
        assert_eq!(manifest.package.group, "org.example");
        assert_eq!(manifest.package.version, "0.1.0");
        assert_eq!(manifest.stack.name, "debian-bookworm");
    }
}

#[test]
fn the_package_name_comes_from_the_directory() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("My_Flask App");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("requirements.txt"), "flask\n").unwrap();
    let manifest = parse(&starter_manifest(&dir)).unwrap();
    assert_eq!(manifest.package.name, "my_flask-app");
}

#[test]
fn a_web_service_and_its_kit_are_written_where_the_tree_shows_one() {
    let dir = tree(&[("requirements.txt", "flask\n"), ("app.py", "")]);
    let manifest = parse(&starter_manifest(dir.path())).unwrap();
    assert!(manifest.services().contains_key("web"));
    assert_eq!(manifest.port_for_service("web"), Some(8080));
    assert_eq!(manifest.build.destinations, ["app.py", "requirements.txt"]);

    let library = tree(&[("requirements.txt", "flask\n")]);
    assert!(parse(&starter_manifest(library.path()))
        .unwrap()
        .services()
        .is_empty());
}

#[test]
fn an_autotools_tree_without_configure_gets_autoreconf() {
    let dir = tree(&[("configure.ac", "AC_INIT\n")]);
    let manifest = parse(&starter_manifest(dir.path())).unwrap();
    assert_eq!(
        manifest.build.before.as_deref(),
        Some(&["autoreconf -fi".to_owned()][..])
    );
    assert!(manifest.dependencies.build.contains(&"autoconf".to_owned()));
}

#[test]
fn the_starting_manifest_of_a_flask_app_reads_well() {
    let parent = tree(&[
        ("flaskr/requirements.txt", "flask\n"),
        ("flaskr/app.py", ""),
        ("flaskr/templates/index.html", ""),
    ]);
    insta::assert_snapshot!(starter_manifest(&parent.path().join("flaskr")));
}
