//! The integration tests of `bale-layer`, one binary: each module is one area.

mod file_log;
