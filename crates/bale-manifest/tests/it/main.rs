//! The integration tests of `bale-manifest`, one binary: each module is one area.

mod common;
mod diagnostics;
mod init;
mod installed;
mod manifest;
