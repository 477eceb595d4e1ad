//! The integration tests of `bale-trigger`, one binary: each module is one area.

mod hook;
mod watch;
