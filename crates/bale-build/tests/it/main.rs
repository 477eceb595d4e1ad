//! The integration tests of `bale-build`, one binary: each module is one area.

mod build;
mod kinds;
mod layer;
mod scripts;
