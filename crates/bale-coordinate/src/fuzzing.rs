//! The entry point for the `coordinate` fuzz target in `fuzz/` and the corpus
//! replay in `tests/it/fuzz_corpus.rs`; see `docs/fuzzing.md`.

use crate::Coordinate;

/// Parses `data` as a coordinate; one that parses must print back to itself.
pub fn coordinate(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(coordinate) = text.parse::<Coordinate>() {
        let printed = coordinate.to_string();
        assert_eq!(printed.parse::<Coordinate>().as_ref(), Ok(&coordinate));
    }
    for part in text.split(':') {
        let _ = (
            crate::check_group(part),
            crate::check_name(part),
            crate::check_version(part),
        );
    }
}
