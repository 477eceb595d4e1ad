//! Entry points for the fuzz targets in `fuzz/` and the corpus replay in
//! `tests/it/fuzz_corpus.rs`: each takes arbitrary bytes and must not panic.
//! See `docs/fuzzing.md`.

use std::io::Cursor;

use crate::check::{self, NullSink};
use crate::index::Index;
use crate::tar_stream::TarStream;
use crate::{read_index_with, verify, Limits};

/// Limits small enough that a fuzz input cannot make a run slow.
pub const SMALL_LIMITS: Limits = Limits {
    max_unpacked_bytes: 4 << 20,
    max_entries: 256,
    max_index_bytes: 64 << 10,
};

/// Reads the index of, then verifies, `data` as a zstd-compressed package.
pub fn archive(data: &[u8]) {
    let _ = read_index_with(data, &SMALL_LIMITS);
    let _ = verify(data, &SMALL_LIMITS);
}

/// Checks `data` as an uncompressed package tar, so the tar header parser
/// sees the fuzzer's bytes directly rather than through zstd.
pub fn tar(data: &[u8]) {
    let mut tar = TarStream::new(Cursor::new(data), &SMALL_LIMITS);
    if let Ok((index, _)) = check::read_head(&mut tar, &SMALL_LIMITS, &mut NullSink) {
        let _ = check::check_entries(&mut tar, &index, &mut NullSink);
    }
}

/// Parses `data` as `index.json`; an accepted index must serialise again.
pub fn index_json(data: &[u8]) {
    if let Ok(index) = Index::from_json(data, &SMALL_LIMITS) {
        let _ = index.to_json();
    }
}
