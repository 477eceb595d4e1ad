//! The integration tests of `bale-store`, one binary: each module is one area.

mod store;
