//! The integration tests of `bale-notice`, one binary: each module is one area.

mod send;
