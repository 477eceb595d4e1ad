//! The integration tests of `bale-manifest`, one binary: each module is one area.

mod common;
mod diagnostics;
mod fuzz_corpus;
mod init;
mod installed;
mod manifest;
