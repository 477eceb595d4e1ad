//! The integration tests of `bale-archive`, one binary: each module is one area.

mod changed_files;
mod common;
mod determinism;
mod fuzz_corpus;
mod gnu_tar;
mod index_json;
mod round_trip;
mod scan_refusals;
mod unpack_refusals;
mod write_behind;
mod zstd_workers;
