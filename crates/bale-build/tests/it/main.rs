//! The integration tests of `bale-build`, one binary: each module is one area.

mod build;
mod closure;
mod emulated;
mod kinds;
mod layer;
mod scripts;
mod stack_identity;
mod upstream;
