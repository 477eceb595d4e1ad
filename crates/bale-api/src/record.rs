//! The builds API: a submitted build, the build record with its steps and
//! attempts, listings, cancel, and what a git push webhook answers.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a build is in its life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum BuildStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker holds it and is building.
    Running,
    /// Built, signed and published.
    Succeeded,
    /// The build, its tests or its publishing failed, or its workers kept dying.
    Failed,
    /// The build ran past its time limit.
    TimedOut,
    /// Someone canceled it.
    Canceled,
    /// Two builds of the same source gave different bytes.
    NotReproducible,
}

impl BuildStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [BuildStatus; 7] = [
        BuildStatus::Queued,
        BuildStatus::Running,
        BuildStatus::Succeeded,
        BuildStatus::Failed,
        BuildStatus::TimedOut,
        BuildStatus::Canceled,
        BuildStatus::NotReproducible,
    ];

    /// The status as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Queued => "queued",
            BuildStatus::Running => "running",
            BuildStatus::Succeeded => "succeeded",
            BuildStatus::Failed => "failed",
            BuildStatus::TimedOut => "timed-out",
            BuildStatus::Canceled => "canceled",
            BuildStatus::NotReproducible => "not-reproducible",
        }
    }

    /// Whether the build has ended and will not change again.
    pub fn is_finished(self) -> bool {
        !matches!(self, BuildStatus::Queued | BuildStatus::Running)
    }
}

impl fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status name that is none of [`BuildStatus::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStatus(pub String);

impl fmt::Display for UnknownStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = BuildStatus::ALL.iter().map(|s| s.as_str()).collect();
        write!(
            f,
            "`{}` is not a build status; use one of {}",
            self.0,
            known.join(", ")
        )
    }
}

impl std::error::Error for UnknownStatus {}

impl FromStr for BuildStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BuildStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// The body of `POST /api/v1/builds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
// The server reads it: a misspelt field is refused rather than silently dropped.
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// A git URL, or an absolute directory on the workers' machine.
    pub source: String,
    /// Branch, tag, commit or full ref (`refs/heads/NAME-VERSION`, `refs/tags/vVERSION`).
    #[serde(rename = "ref", default)]
    pub git_ref: Option<String>,
    /// Rebuild the dependency layer instead of reusing it.
    #[serde(default)]
    pub fresh: bool,
    /// Build it a second time in a fresh environment (on another worker when
    /// one is live) and compare the two packages byte for byte.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check: bool,
    /// The Debian architecture to build for (`amd64`, `arm64`, …), or
    /// `all-supported` for one build per architecture the service has
    /// stacks for; absent: whichever worker claims it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

/// The query of `GET /api/v1/builds`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BuildListQuery {
    /// Package name or `group:name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// queued, running, succeeded, failed, timed-out, canceled or not-reproducible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// At most this many (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// A build as the API shows it: the record, how long it ran, where its log is.
///
/// Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Build {
    /// The build's id.
    pub id: i64,
    /// Where it is in its life.
    pub status: BuildStatus,
    /// A git URL or a directory.
    pub source: String,
    /// The git ref asked for.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// Whether the dependency layer is rebuilt.
    pub fresh: bool,
    /// The Debian architecture it was queued for; absent: any worker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The other builds queued by the same request (`--arch all-supported`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_queued: Vec<i64>,
    /// Who asked.
    pub requested_by: Option<String>,
    /// `group:name:version`, once the manifest was read.
    pub coordinate: Option<String>,
    /// The package name.
    pub package: Option<String>,
    /// The source commit, when the source is git.
    pub commit: Option<String>,
    /// The worker that holds or held it last.
    pub worker: Option<String>,
    /// The stack's name.
    pub stack: Option<String>,
    /// The stack image's digest.
    pub stack_digest: Option<String>,
    /// The stack's Debian packages (`name=version`).
    pub stack_packages: Vec<String>,
    /// How many times a worker claimed it.
    pub tries: i64,
    /// Until when the holding worker's lease runs.
    pub lease_until: Option<i64>,
    /// Whether a cancel was asked while it ran.
    pub cancel_requested: bool,
    /// When it was submitted.
    pub created_at: i64,
    /// When the last claim started it.
    pub started_at: Option<i64>,
    /// When it ended.
    pub finished_at: Option<i64>,
    /// How long it ran, once it ended.
    pub duration_ms: Option<i64>,
    /// The package's installed size in bytes.
    pub installed_size: Option<i64>,
    /// `sha256:<hex>` of the package it made.
    pub package_digest: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The stored log's key in the object store, once it ended.
    pub log_key: Option<String>,
    /// The API path of its log, `/api/v1/builds/ID/log`.
    pub log: String,
    /// The repository paths of the SBOMs and provenance published beside
    /// its package (`….bale.spdx.json`, `.cdx.json`, `.intoto.json`), once it succeeded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<String>,
    /// Its steps, in order (empty in listings).
    pub steps: Vec<BuildStep>,
    /// Each claim by a worker (only in `GET /api/v1/builds/ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<BuildAttempt>>,
    /// Whether its reproducibility is checked by a second build.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub check: bool,
    /// The reproducibility check: its outcome, both workers and packages, what differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproducibility: Option<Reproducibility>,
}

/// The check that a second build of the same source, in a fresh environment,
/// gave the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reproducibility {
    /// `pending` until the second build ends.
    pub outcome: CheckOutcome,
    /// The worker that made the first package.
    pub first_worker: String,
    /// `sha256:<hex>` of the first package.
    pub first_digest: String,
    /// The worker that made the second package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_worker: Option<String>,
    /// `sha256:<hex>` of the second package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_digest: Option<String>,
    /// What differs between the two packages, by path (empty when they are identical).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
    /// Where both packages of a build that did not reproduce are kept, as object-store keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
}

/// How a reproducibility check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CheckOutcome {
    /// The second build has not ended yet.
    Pending,
    /// Both builds gave the same bytes.
    Reproducible,
    /// The two packages differ.
    NotReproducible,
}

/// One thing that differs between the two packages of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Difference {
    /// The file's path in the package; `index.json` for the package's own
    /// facts; the package file's name when only the archive's bytes differ.
    pub path: String,
    /// What kind of difference it is.
    pub change: Change,
    /// Which facts differ: `sha256`, `size`, `mode`, `type`, `target`, or index fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<String>,
}

/// The kind of a [`Difference`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// In both packages, with different facts.
    Changed,
    /// Only in the second package.
    Added,
    /// Only in the first package.
    Removed,
    /// The indexes are equal but the archives' bytes are not.
    Archive,
}

impl fmt::Display for Difference {
    /// `path: changed (sha256, size)`, as notices and listings show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let change = match self.change {
            Change::Changed => "changed",
            Change::Added => "only in the second build",
            Change::Removed => "only in the first build",
            Change::Archive => "the archive's bytes differ though every file and fact is equal",
        };
        write!(f, "{}: {change}", self.path)?;
        if !self.facts.is_empty() {
            write!(f, " ({})", self.facts.join(", "))?;
        }
        Ok(())
    }
}

/// One step of a build as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BuildStep {
    /// stack, dependencies, source, before, main, after, finalize, collect, pack, test.
    pub name: String,
    /// When it started.
    pub started_at: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// `ok`, `failed`, `cached` or `skipped`.
    pub status: String,
}

/// One claim of a build by a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BuildAttempt {
    /// 1 for the first claim.
    pub attempt: i64,
    /// The worker that held it.
    pub worker: String,
    /// When the worker claimed it.
    pub started_at: i64,
    /// When it ended or its lease ran out (absent while held).
    pub finished_at: Option<i64>,
    /// The status it ended with, or `lost` when the worker's lease ran out.
    pub outcome: Option<String>,
}

/// `GET /api/v1/builds`: builds, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BuildList {
    /// The builds.
    pub builds: Vec<Build>,
}

/// `POST /api/v1/builds/ID/cancel`: canceled at once, or its worker is stopping it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CancelOutcome {
    /// The build's id.
    pub id: i64,
    /// `canceled`, or `running` while its worker stops it.
    pub status: BuildStatus,
    /// Whether the cancel waits for the worker (answered with 202).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancel_requested: bool,
}

/// `POST /api/v1/hooks/git` when a push names a version: the queued build and that version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HookBuild {
    /// The queued build.
    #[serde(flatten)]
    pub build: Build,
    /// The version the pushed ref names.
    pub version: String,
}

/// `POST /api/v1/hooks/git` when the push builds nothing, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HookIgnored {
    /// Always `ignored`.
    pub status: HookStatus,
    /// Why nothing is built.
    pub reason: String,
}

/// What a webhook did with an event that builds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HookStatus {
    /// The event names no version to build.
    Ignored,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_name() {
        for status in BuildStatus::ALL {
            assert_eq!(status.as_str().parse::<BuildStatus>(), Ok(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        let error = "done".parse::<BuildStatus>().unwrap_err();
        assert!(error.to_string().contains("timed-out"), "{error}");
    }

    #[test]
    fn a_submit_request_with_an_unknown_field_is_refused() {
        let ok: SubmitRequest = serde_json::from_str(r#"{"source": "/src"}"#).unwrap();
        assert_eq!((ok.git_ref, ok.fresh, ok.check), (None, false, false));
        assert!(
            serde_json::from_str::<SubmitRequest>(r#"{"source": "/src", "extra": 1}"#).is_err()
        );
    }

    #[test]
    fn a_cancel_outcome_names_cancel_requested_only_when_it_waits() {
        let at_once = CancelOutcome {
            id: 3,
            status: BuildStatus::Canceled,
            cancel_requested: false,
        };
        assert_eq!(
            serde_json::to_value(&at_once).unwrap(),
            serde_json::json!({"id": 3, "status": "canceled"})
        );
        let waiting = CancelOutcome {
            status: BuildStatus::Running,
            cancel_requested: true,
            ..at_once
        };
        assert_eq!(
            serde_json::to_value(&waiting).unwrap(),
            serde_json::json!({"id": 3, "status": "running", "cancel_requested": true})
        );
    }
}
