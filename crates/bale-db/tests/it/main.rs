//! The integration tests of `bale-db`, one binary: each module is one area.

mod arch_migration;
mod common;
mod db;
mod queue;
mod reproducibility;
