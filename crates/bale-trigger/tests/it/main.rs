//! The integration tests of `bale-trigger`, one binary: each module is one area.

mod fuzz_corpus;
mod hook;
mod watch;
