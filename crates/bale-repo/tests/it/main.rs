//! The integration tests of `bale-repo`, one binary: each module is one area.

mod arch;
mod bad_input;
mod common;
mod crash;
mod inline_cache;
mod killed_write;
mod mirror;
mod repository;
mod storage;
