//! The JSON that crosses a process or crate boundary, as serde types.
//!
//! `bale build --json` prints a [`BuildOutput`] that the build service's
//! worker reads back; the service's API answers with [`Build`] records,
//! [`BuildList`]s, [`CancelOutcome`]s and [`ErrorEnvelope`]s that its client
//! (`bale submit`, `bale builds`, `bale logs --build`, `bale watch`) reads;
//! the repository's API answers with the package types of [`package`]. The
//! OpenAPI document served at `/api/v1/openapi.json` is generated from the
//! same types' JSON schemas, so a renamed field changes the compile, the
//! wire and the document together.
//!
//! Types are read leniently: unknown fields are ignored (a newer server may
//! add some), except in [`SubmitRequest`], which the server reads and where
//! a misspelt field must not be silently dropped.

pub mod build;
pub mod error;
pub mod package;
pub mod record;
pub mod stack;
pub mod watch;

pub use build::{BuildFacts, BuildOutput, StepFacts};
pub use error::{ErrorBody, ErrorEnvelope};
pub use package::{
    FileHit, Health, LibraryHit, PackageDetail, PackageFiles, PackageList, PackageName,
    PackageSummary, PackageVersions, PublishOutcome, PublishStatus, SearchQuery, SearchResults,
    SignatureState, SignatureStatus,
};
pub use record::{
    Build, BuildAttempt, BuildList, BuildListQuery, BuildStatus, BuildStep, CancelOutcome, Change,
    CheckOutcome, Difference, HookBuild, HookIgnored, HookStatus, Reproducibility, SubmitRequest,
    UnknownStatus,
};
pub use stack::{Stack, StackChange, StackList, StackSanitized, StackState};
pub use watch::{WatchFailed, WatchQueued, WatchRefused, WatchReport};

/// The JSON schemas of what bale's commands print with `--json` and other
/// programs read back, as snapshots: a change to a type shows in review as a
/// change to its contract. (The HTTP API's schemas are in the OpenAPI
/// document, snapshotted by bale-service.)
#[cfg(test)]
mod schemas {
    use schemars::generate::SchemaSettings;
    use schemars::JsonSchema;

    use super::{BuildOutput, ErrorEnvelope, WatchReport};

    fn schema_of<T: JsonSchema>() -> String {
        let schema = SchemaSettings::draft2020_12()
            .for_serialize()
            .into_generator()
            .into_root_schema_for::<T>();
        serde_json::to_string_pretty(&schema).expect("a schema is JSON")
    }

    #[test]
    fn bale_build_json_prints_a_build_output() {
        insta::assert_snapshot!(schema_of::<BuildOutput>());
    }

    #[test]
    fn a_failed_command_with_json_prints_an_error_envelope() {
        insta::assert_snapshot!(schema_of::<ErrorEnvelope>());
    }

    #[test]
    fn bale_watch_once_json_prints_a_watch_report() {
        insta::assert_snapshot!(schema_of::<WatchReport>());
    }
}
