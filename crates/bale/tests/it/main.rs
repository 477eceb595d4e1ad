//! The integration tests of `bale`, one binary: each module is one area.

mod build;
mod cli;
mod cli_reference;
mod command_names;
mod common;
mod crate_graph;
mod dashboard;
mod deploy_crash;
mod deploy_fixture;
mod end_to_end;
mod env_file;
mod error_output;
mod examples;
mod hosts;
mod keep_failed;
mod package;
mod repo;
mod runtime;
mod service;
mod service_hooks;
mod stack;
mod supervise;
mod trigger;
mod worker_crash;
