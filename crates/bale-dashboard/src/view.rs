//! What the pages show, as plain data.

use serde::Serialize;

/// The front page: queue, recent builds, packages, stacks and apps.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overview {
    /// Builds waiting or running, oldest first.
    pub queue: Vec<BuildRow>,
    /// Finished builds, newest first.
    pub recent: Vec<BuildRow>,
    /// Published packages, newest first.
    pub packages: Vec<PackageRow>,
    /// Stack images on this machine.
    pub stacks: Vec<StackRow>,
    /// Apps deployed on this machine.
    pub apps: Vec<AppRow>,
}

/// One build in a listing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildRow {
    /// The build's id.
    pub id: i64,
    /// Its package, once known (`group:name:version`).
    pub coordinate: Option<String>,
    /// Where its source came from.
    pub source: String,
    /// queued, running, succeeded, failed, timed-out, canceled, not-reproducible.
    pub status: String,
    /// Whole build time in milliseconds, once finished.
    pub duration_ms: Option<u64>,
    /// Each step's timing.
    pub steps: Vec<StepRow>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// One step of a build.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StepRow {
    /// The step's name (stack, layer, source, before, main, …).
    pub name: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
    /// succeeded, failed or running.
    pub status: String,
}

/// One build with its log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BuildPage {
    /// The build.
    pub build: BuildRow,
    /// Who asked for it.
    pub requested_by: Option<String>,
    /// The worker that ran it.
    pub worker: Option<String>,
    /// The commit built, for git sources.
    pub commit: Option<String>,
    /// The log so far (the whole log once finished).
    pub log: String,
    /// Its reproducibility check, when it was asked for one.
    pub check: Option<CheckView>,
}

/// A build's reproducibility check: a second build compared with the first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckView {
    /// pending, reproducible or not-reproducible.
    pub outcome: String,
    /// The worker that made the first package.
    pub first_worker: String,
    /// The worker that made the second, once it did.
    pub second_worker: Option<String>,
    /// What differs between the two packages.
    pub differences: Vec<DifferenceRow>,
}

/// One thing that differs between the two packages of a check.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DifferenceRow {
    /// The file's path in the package (or `index.json`, or the package file).
    pub path: String,
    /// changed, added, removed or archive.
    pub change: String,
    /// The facts that differ (sha256, mode, …).
    pub facts: Vec<String>,
}

/// One published package in a listing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PackageRow {
    /// `group:name:version`.
    pub coordinate: String,
    /// The Debian architecture it is built for (`amd64`, `arm64`, `all`).
    pub arch: String,
    /// Archive size in bytes.
    pub size: u64,
    /// The signing key's id, when signed.
    pub key_id: Option<String>,
}

/// One package with its files.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PackagePage {
    /// The package.
    pub package: PackageRow,
    /// Its files in path order.
    pub files: Vec<FileRow>,
    /// Its SBOMs and provenance in the repository, those it has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<AttestationLink>,
}

/// A link to one of a package's SBOMs or its provenance.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AttestationLink {
    /// `SPDX`, `CycloneDX` or `provenance`.
    pub label: String,
    /// Its URL path in the repository tree.
    pub href: String,
}

/// One file of a package.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileRow {
    /// Its path in the package.
    pub path: String,
    /// binary, library, script, config, data, …
    pub class: String,
    /// Its size in bytes.
    pub size: u64,
    /// static, dynamic or static-pie for ELF files.
    pub linkage: Option<String>,
    /// The libraries it needs (DT_NEEDED).
    pub needed: Vec<String>,
}

/// One stack image.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StackRow {
    /// Its name.
    pub name: String,
    /// absent, cold, warm, …
    pub state: String,
    /// Size on disk in bytes, when present.
    pub size: Option<u64>,
    /// Its digest, when created.
    pub digest: Option<String>,
}

/// One deployed app.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AppRow {
    /// The app's name.
    pub name: String,
    /// The current package, if any.
    pub coordinate: Option<String>,
    /// Each service and its state, e.g. `web: running`.
    pub services: Vec<(String, String)>,
}
