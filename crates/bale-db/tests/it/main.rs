//! The integration tests of `bale-db`, one binary: each module is one area.

mod db;
mod queue;
