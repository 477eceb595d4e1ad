//! `<name>-<version>.build.json`: the facts of one build that vary from run
//! to run (host, times, durations, log), kept beside the package and never
//! inside it. The types are bale-api's: `bale build --json` prints them and
//! the build service reads them back.

pub use bale_api::{BuildFacts, StepFacts};
