//! The integration tests of `bale-db`, one binary: each module is one area.

mod common;
mod db;
mod queue;
mod reproducibility;
