//! The integration tests of `bale-service`, one binary: each module is one area.

mod api;
