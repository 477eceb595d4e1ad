//! The fuzz corpora in `fuzz/corpus/` replayed: every seed and every minimised
//! crash goes through the function its fuzz target calls, and must not panic.

use std::path::PathBuf;

use crate::common;

/// Calls `each` on every file of `fuzz/corpus/<target>/`; an empty or missing corpus fails.
fn replay(target: &str, each: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a corpus entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // Named, so a failing replay says which input to look at.
        if std::panic::catch_unwind(|| each(&data)).is_err() {
            panic!("the {target} target panics on {}", path.display());
        }
        files += 1;
    }
    assert!(files > 0, "{} holds no corpus files", dir.display());
}

#[test]
fn the_archive_corpus_replays_without_panicking() {
    replay("archive", bale_archive::fuzzing::archive);
}

#[test]
fn the_tar_corpus_replays_without_panicking() {
    replay("tar", bale_archive::fuzzing::tar);
}

#[test]
fn the_index_json_corpus_replays_without_panicking() {
    replay("index_json", bale_archive::fuzzing::index_json);
}

/// Rewrites the package seeds of the `archive`, `tar` and `index_json`
/// corpora from [`common::sample_tree`]; run after a format change with
/// `cargo test -p bale-archive --test it -- --ignored fuzz_corpus`.
#[test]
#[ignore = "writes into fuzz/corpus"]
fn write_the_package_seeds() {
    let tmp = tempfile::tempdir().unwrap();
    common::sample_tree(tmp.path());
    let package = common::pack(tmp.path());
    let tar = zstd::decode_all(package.as_slice()).unwrap();
    let (index, _) = bale_archive::read_index(package.as_slice()).unwrap();
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let write = |target: &str, name: &str, data: &[u8]| {
        std::fs::create_dir_all(corpus.join(target)).unwrap();
        std::fs::write(corpus.join(target).join(name), data).unwrap();
    };
    write("archive", "sample-package", &package);
    write("tar", "sample.tar", &tar);
    write("index_json", "sample.json", &index.to_json().unwrap());
}
