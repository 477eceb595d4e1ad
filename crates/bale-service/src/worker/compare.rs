//! What differs between the two packages of a reproducibility check, read
//! from their indexes: files whose facts differ, files only one has, the
//! package's own facts, else the archive's bytes alone.

use std::collections::BTreeMap;

use bale_api::{Change, Difference};
use bale_archive::{FileRecord, Index};

/// The differences between `first` and `second`, by path; when their
/// indexes are equal, one [`Change::Archive`] difference naming `archive`.
pub(crate) fn differences(first: &Index, second: &Index, archive: &str) -> Vec<Difference> {
    let mut found = Vec::new();
    let facts = index_facts(first, second);
    if !facts.is_empty() {
        found.push(Difference {
            path: "index.json".into(),
            change: Change::Changed,
            facts,
        });
    }
    let ours: BTreeMap<&str, &FileRecord> =
        first.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let theirs: BTreeMap<&str, &FileRecord> =
        second.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut paths: Vec<&str> = ours.keys().chain(theirs.keys()).copied().collect();
    paths.sort_unstable();
    paths.dedup();
    for path in paths {
        let (change, facts) = match (ours.get(path), theirs.get(path)) {
            (Some(a), Some(b)) => {
                let facts = file_facts(a, b);
                if facts.is_empty() {
                    continue;
                }
                (Change::Changed, facts)
            }
            (Some(_), None) => (Change::Removed, Vec::new()),
            (None, Some(_)) => (Change::Added, Vec::new()),
            (None, None) => continue,
        };
        found.push(Difference {
            path: path.to_owned(),
            change,
            facts,
        });
    }
    if found.is_empty() {
        found.push(Difference {
            path: archive.to_owned(),
            change: Change::Archive,
            facts: Vec::new(),
        });
    }
    found
}

/// The facts of one file that differ, by their index names.
fn file_facts(a: &FileRecord, b: &FileRecord) -> Vec<String> {
    differing(&[
        ("type", a.entry_type != b.entry_type),
        ("mode", a.mode != b.mode),
        ("size", a.size != b.size),
        ("sha256", a.sha256 != b.sha256),
        ("target", a.target != b.target),
        ("class", a.class != b.class),
        ("elf", a.elf != b.elf),
    ])
}

/// The package's own facts that differ, by their index names.
fn index_facts(a: &Index, b: &Index) -> Vec<String> {
    differing(&[
        ("coordinate", a.coordinate != b.coordinate),
        ("arch", a.arch != b.arch),
        ("stack", a.stack != b.stack),
        ("dependencies", a.dependencies != b.dependencies),
        ("source", a.source != b.source),
        ("installed_size", a.installed_size != b.installed_size),
    ])
}

/// The names of the facts that differ.
fn differing(facts: &[(&str, bool)]) -> Vec<String> {
    facts
        .iter()
        .filter(|(_, differs)| *differs)
        .map(|(name, _)| (*name).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_archive::{Dependencies, EntryType, SourceRef, StackRef};

    fn file(path: &str, sha: &str, mode: u32) -> FileRecord {
        FileRecord {
            path: path.into(),
            entry_type: EntryType::File,
            mode: Some(mode),
            size: Some(4),
            sha256: Some(sha.into()),
            class: None,
            elf: None,
            target: None,
        }
    }

    fn index(files: Vec<FileRecord>) -> Index {
        Index {
            format: 1,
            coordinate: "org.example:stamp:1.0.0".into(),
            arch: None,
            stack: StackRef {
                name: "host".into(),
                digest: String::new(),
            },
            dependencies: Dependencies::default(),
            source: SourceRef::default(),
            files,
            installed_size: 8,
        }
    }

    #[test]
    fn files_whose_content_or_mode_differ_are_named_with_the_facts_that_differ() {
        let first = index(vec![file("a", "11", 0o644), file("b", "22", 0o644)]);
        let second = index(vec![file("a", "11", 0o644), file("b", "33", 0o755)]);
        let found = differences(&first, &second, "stamp-1.0.0.bale");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "b");
        assert_eq!(found[0].change, Change::Changed);
        assert_eq!(found[0].facts, ["mode", "sha256"]);
        assert_eq!(found[0].to_string(), "b: changed (mode, sha256)");
    }

    #[test]
    fn files_only_one_package_has_are_added_or_removed() {
        let first = index(vec![file("a", "11", 0o644), file("gone", "22", 0o644)]);
        let second = index(vec![file("a", "11", 0o644), file("new", "22", 0o644)]);
        let found = differences(&first, &second, "stamp-1.0.0.bale");
        let listed: Vec<(&str, Change)> =
            found.iter().map(|d| (d.path.as_str(), d.change)).collect();
        assert_eq!(listed, [("gone", Change::Removed), ("new", Change::Added)]);
    }

    #[test]
    fn equal_indexes_say_the_archive_bytes_differ() {
        let first = index(vec![file("a", "11", 0o644)]);
        let found = differences(&first, &first.clone(), "stamp-1.0.0.bale");
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].path.as_str(), found[0].change),
            ("stamp-1.0.0.bale", Change::Archive)
        );
    }

    #[test]
    fn the_package_s_own_facts_are_named_as_index_json() {
        let first = index(vec![file("a", "11", 0o644)]);
        let mut second = first.clone();
        second.stack.digest = "sha256:ff".into();
        let found = differences(&first, &second, "stamp-1.0.0.bale");
        assert_eq!(found[0].path, "index.json");
        assert_eq!(found[0].facts, ["stack"]);
    }
}
