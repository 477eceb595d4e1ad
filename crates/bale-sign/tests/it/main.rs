//! The integration tests of `bale-sign`, one binary: each module is one area.

mod fuzz_corpus;
mod keyring;
mod keys_and_signatures;
mod minisign_cli;
