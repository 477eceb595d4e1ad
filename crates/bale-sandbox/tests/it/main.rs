//! The integration tests of `bale-sandbox`, one binary: each module is one area.

mod common;
mod isolation;
mod limits;
mod proxy;
mod run_as;
