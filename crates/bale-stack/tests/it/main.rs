//! The integration tests of `bale-stack`, one binary: each module is one area.

mod arches;
mod stacks;
