//! The integration tests of `bale-app`, one binary: each module is one area.

mod deploy;
mod environment;
