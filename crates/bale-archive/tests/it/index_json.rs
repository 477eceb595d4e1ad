//! `.bale/index.json`: deterministic, one record per entry, classes and targets.

use crate::common;

use bale_archive::{read_index, EntryType};
use bale_inspect::FileClass;
use common::*;

/// `value` written compactly with every object's keys sorted.
fn sorted(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}",
                        serde_json::Value::from(k.as_str()),
                        sorted(&map[k.as_str()])
                    )
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        serde_json::Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(sorted).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

#[test]
fn index_json_has_sorted_keys_and_a_trailing_newline() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    let (index, _) = read_index(&pack(root.path())[..]).unwrap();
    let json = index.to_json().unwrap();
    let text = String::from_utf8(json.clone()).unwrap();
    assert!(text.ends_with("}\n"));
    let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(text, format!("{}\n", sorted(&value)));
    // The top-level keys, in the order they are written.
    let top = [
        "coordinate",
        "dependencies",
        "files",
        "format",
        "installed_size",
        "source",
        "stack",
    ];
    let at: Vec<usize> = top
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "top-level keys out of order: {text}"
    );
    // Inside a record too: path < sha256 < size < type.
    let record = &text[text.find("{\"class\":\"script\"").unwrap()..];
    let keys = [
        "\"class\"",
        "\"mode\"",
        "\"path\"",
        "\"sha256\"",
        "\"size\"",
        "\"type\"",
    ];
    let at: Vec<usize> = keys.iter().map(|k| record.find(k).unwrap()).collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "record keys out of order: {record}"
    );
}

#[test]
fn index_has_one_record_per_entry_with_classes_and_symlink_targets() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    let (index, manifest) = read_index(&pack(root.path())[..]).unwrap();
    assert_eq!(manifest, MANIFEST);
    assert_eq!(index.coordinate, "org.example:hello:1.0.0");
    let paths: Vec<&str> = index.files.iter().map(|f| f.path.as_str()).collect();
    let on_disk: Vec<String> = listing(root.path())
        .into_iter()
        .map(|p| p.trim_end_matches('/').to_string())
        .collect();
    assert_eq!(paths, on_disk);
    let record = |p: &str| index.files.iter().find(|f| f.path == p).unwrap();
    assert_eq!(record("bin/hello").class, Some(FileClass::Script));
    assert_eq!(record("bin/hello").mode, Some(0o755));
    assert_eq!(record("etc/hello.conf").class, Some(FileClass::Config));
    assert_eq!(record("share/doc/README").class, Some(FileClass::Data));
    assert_eq!(
        record("share/doc/README").sha256.as_deref(),
        Some(sha256(b"read me\n").as_str())
    );
    assert_eq!(record("lib/hello-link").entry_type, EntryType::Symlink);
    assert_eq!(
        record("lib/hello-link").target.as_deref(),
        Some("../bin/hello")
    );
    assert_eq!(record("lib/hello-link").mode, None);
    assert_eq!(record("bin").entry_type, EntryType::Dir);
    let total: u64 = index.files.iter().filter_map(|f| f.size).sum();
    assert_eq!(index.installed_size, total);
}

#[test]
fn needed_libraries_not_shipped_are_reported_for_a_real_executable() {
    let root = tempfile::tempdir().unwrap();
    let src = root.path().join("hello.c");
    std::fs::write(&src, "int main(void){return 0;}\n").unwrap();
    let pkg = root.path().join("pkg");
    std::fs::create_dir_all(pkg.join("bin")).unwrap();
    let status = std::process::Command::new("gcc")
        .arg(&src)
        .arg("-o")
        .arg(pkg.join("bin/hello"))
        .status()
        .unwrap();
    assert!(status.success());
    let tree = bale_archive::PackageTree::scan(&pkg).unwrap();
    let needed = tree.needed_not_shipped();
    assert!(needed.contains("libc.so.6"), "{needed:?}");
    let record = tree
        .records()
        .iter()
        .find(|r| r.path == "bin/hello")
        .unwrap();
    assert_eq!(record.class, Some(FileClass::ElfExecutable));

    // Shipping a file named like the library makes it provided.
    std::fs::create_dir_all(pkg.join("lib")).unwrap();
    std::fs::write(pkg.join("lib/libc.so.6"), b"not really").unwrap();
    let tree = bale_archive::PackageTree::scan(&pkg).unwrap();
    assert!(!tree.needed_not_shipped().contains("libc.so.6"));
}
