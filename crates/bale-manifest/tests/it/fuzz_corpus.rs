//! The fuzz corpora in `fuzz/corpus/` replayed: every seed and every minimised
//! crash goes through the function its fuzz target calls, and must not panic.

use std::path::PathBuf;

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
fn the_manifest_corpus_replays_without_panicking() {
    replay("manifest", bale_manifest::fuzzing::manifest);
}
