//! The integration tests of `bale-coordinate`, one binary: each module is one area.

mod fuzz_corpus;
