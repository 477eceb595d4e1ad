//! The integration tests of `bale-dashboard`, one binary: each module is one area.

mod browser;
