//! Build records: what was asked, what ran where, and how it ended.
//!
//! Times are milliseconds since the Unix epoch. The queue itself (claims,
//! leases, cancel) is in [`crate::queue`].

use std::fmt;
use std::str::FromStr;

use sqlx::any::AnyRow;

use crate::{column, Database, DbError};

/// Where a build is in its life.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
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

    /// The status as stored and shown.
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

impl FromStr for BuildStatus {
    type Err = DbError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BuildStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| DbError::UnknownStatus(s.to_owned()))
    }
}

/// A build to enqueue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewBuild {
    /// A git URL or a directory on the workers' machine.
    pub source: String,
    /// The git ref to build (branch, tag, commit), when the source is git.
    pub git_ref: Option<String>,
    /// Rebuild the dependency layer instead of reusing it.
    pub fresh: bool,
    /// Who asked (e.g. the token's scope and id, or a trigger).
    pub requested_by: Option<String>,
    /// Build it a second time in a fresh environment and compare the packages.
    pub check: bool,
    /// The Debian architecture to build for; only a worker with a stack
    /// for it claims the build. `None`: any worker (its own architecture).
    pub arch: Option<String>,
}

/// One step of a build as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    /// stack, dependencies, source, before, main, after, finalize, collect, pack, test.
    pub name: String,
    /// When it started, milliseconds since the Unix epoch.
    pub started_at: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// `ok`, `failed`, `cached` or `skipped`.
    pub status: String,
}

/// One claim of a build by a worker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AttemptRecord {
    /// 1 for the first claim.
    pub attempt: i64,
    /// The worker that held it.
    pub worker: String,
    /// When the worker claimed it.
    pub started_at: i64,
    /// When it ended or its lease ran out (`None` while held).
    pub finished_at: Option<i64>,
    /// The status it ended with, or `lost` when the worker's lease ran out.
    pub outcome: Option<String>,
}

/// Everything recorded about one build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuildRecord {
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
    /// Who asked.
    pub requested_by: Option<String>,
    /// `group:name:version`, once the manifest was read.
    pub coordinate: Option<String>,
    /// The package name, for "builds of a package".
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
    /// The package's installed size in bytes.
    pub installed_size: Option<i64>,
    /// `sha256:<hex>` of the package it made.
    pub package_digest: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// The stored log's key in the object store, once it ended.
    pub log_key: Option<String>,
    /// Its steps, in order (filled by [`get`], empty in listings).
    /// The Debian architecture it was queued for (`None`: any worker's).
    pub arch: Option<String>,
    pub steps: Vec<StepRecord>,
    /// Whether a second build in a fresh environment checks its reproducibility.
    pub check: bool,
    /// The worker that made the first package of a check, while the second build waits or runs.
    pub first_worker: Option<String>,
    /// The check's record as the service wrote it (JSON: workers, digests, differing files).
    pub reproducibility: Option<String>,
}

impl BuildRecord {
    /// Whether this claim is the second build of a reproducibility check.
    pub fn is_rebuild(&self) -> bool {
        self.check && self.first_worker.is_some()
    }
}

impl BuildRecord {
    /// How long it ran, when it ran and ended.
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.finished_at? - self.started_at?)
    }
}

/// Which builds to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFilter {
    /// Only builds of this package name (or `group:name`).
    pub package: Option<String>,
    /// Only builds with this status.
    pub status: Option<BuildStatus>,
    /// At most this many, newest first (default 100).
    pub limit: Option<i64>,
}

/// How many builds end in each status and how long they took.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct StatusStats {
    /// The status.
    pub status: String,
    /// How many builds have it.
    pub count: i64,
    /// The sum of their run times (finished ones).
    pub duration_ms_sum: i64,
    /// How many of them have a run time.
    pub timed: i64,
}

pub(crate) const COLUMNS: &str = "id, source, git_ref, fresh, requested_by, status, coordinate, package_name, commit_id, worker, \
     stack_name, stack_digest, stack_packages, tries, lease_until, cancel_requested, created_at, started_at, finished_at, \
     installed_size, package_digest, error, log_key, check_reproducible, first_worker, reproducibility, arch";

/// Enqueues a build; returns its record.
pub async fn submit(db: &Database, build: &NewBuild) -> Result<BuildRecord, DbError> {
    let row = sqlx::query(&format!(
        "INSERT INTO builds (source, git_ref, fresh, requested_by, status, created_at, check_reproducible, arch) \
         VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(&build.source)
    .bind(build.git_ref.as_deref())
    .bind(i64::from(build.fresh))
    .bind(build.requested_by.as_deref())
    .bind(now_ms())
    .bind(i64::from(build.check))
    .bind(build.arch.as_deref())
    .fetch_one(db.pool())
    .await?;
    record(&row)
}

/// One build with its steps, or `None`.
pub async fn get(db: &Database, id: i64) -> Result<Option<BuildRecord>, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM builds WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut build = record(&row)?;
    build.steps = steps(db, id).await?;
    Ok(Some(build))
}

/// The recorded steps of a build, in order.
pub async fn steps(db: &Database, id: i64) -> Result<Vec<StepRecord>, DbError> {
    let rows = sqlx::query("SELECT name, started_at, duration_ms, status FROM build_steps WHERE build_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StepRecord {
                name: column(row, "name")?,
                started_at: column(row, "started_at")?,
                duration_ms: column(row, "duration_ms")?,
                status: column(row, "status")?,
            })
        })
        .collect()
}

/// The recorded steps of several builds at once, each build's in order.
pub async fn steps_of(
    db: &Database,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<StepRecord>>, DbError> {
    let mut by_build = std::collections::HashMap::new();
    if ids.is_empty() {
        return Ok(by_build);
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT build_id, name, started_at, duration_ms, status FROM build_steps WHERE build_id IN ({}) ORDER BY build_id, position",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    for row in query.fetch_all(db.pool()).await? {
        let build: i64 = column(&row, "build_id")?;
        by_build
            .entry(build)
            .or_insert_with(Vec::new)
            .push(StepRecord {
                name: column(&row, "name")?,
                started_at: column(&row, "started_at")?,
                duration_ms: column(&row, "duration_ms")?,
                status: column(&row, "status")?,
            });
    }
    Ok(by_build)
}

/// Every claim of a build, first first.
pub async fn attempts(db: &Database, id: i64) -> Result<Vec<AttemptRecord>, DbError> {
    let rows = sqlx::query(
        "SELECT try, worker, started_at, finished_at, outcome FROM build_attempts WHERE build_id = $1 ORDER BY try",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AttemptRecord {
                attempt: column(row, "try")?,
                worker: column(row, "worker")?,
                started_at: column(row, "started_at")?,
                finished_at: column(row, "finished_at")?,
                outcome: column(row, "outcome")?,
            })
        })
        .collect()
}

/// Builds matching `filter`, newest first, without their steps.
pub async fn list(db: &Database, filter: &BuildFilter) -> Result<Vec<BuildRecord>, DbError> {
    let mut sql = format!("SELECT {COLUMNS} FROM builds WHERE 1 = 1");
    let mut binds: Vec<String> = Vec::new();
    if let Some(package) = &filter.package {
        binds.push(package.clone());
        let n = binds.len();
        // `group:name` matches the coordinate's prefix; a bare name matches the name.
        if package.contains(':') {
            binds.push(format!("{package}:%"));
            sql.push_str(&format!(
                " AND (coordinate = ${n} OR coordinate LIKE ${})",
                n + 1
            ));
        } else {
            sql.push_str(&format!(" AND package_name = ${n}"));
        }
    }
    if let Some(status) = filter.status {
        binds.push(status.as_str().to_owned());
        sql.push_str(&format!(" AND status = ${}", binds.len()));
    }
    sql.push_str(&format!(
        " ORDER BY id DESC LIMIT {}",
        filter.limit.unwrap_or(100).clamp(1, 10_000)
    ));
    let mut query = sqlx::query(&sql);
    for bind in binds {
        query = query.bind(bind);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter().map(record).collect()
}

/// How many builds wait for a worker.
pub async fn queue_length(db: &Database) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM builds WHERE status = 'queued'")
        .fetch_one(db.pool())
        .await?;
    column(&row, "n")
}

/// Per status: how many builds, and the sum and count of their run times.
pub async fn stats(db: &Database) -> Result<Vec<StatusStats>, DbError> {
    let rows = sqlx::query(
        "SELECT status, COUNT(*) AS n, \
         CAST(COALESCE(SUM(finished_at - started_at), 0) AS BIGINT) AS total, \
         COUNT(finished_at - started_at) AS timed \
         FROM builds GROUP BY status ORDER BY status",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StatusStats {
                status: column(row, "status")?,
                count: column(row, "n")?,
                duration_ms_sum: column(row, "total")?,
                timed: column(row, "timed")?,
            })
        })
        .collect()
}

pub(crate) fn record(row: &AnyRow) -> Result<BuildRecord, DbError> {
    let status: String = column(row, "status")?;
    let fresh: i64 = column(row, "fresh")?;
    let cancel: i64 = column(row, "cancel_requested")?;
    let check: i64 = column(row, "check_reproducible")?;
    let packages: Option<String> = column(row, "stack_packages")?;
    let stack_packages = match packages {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| DbError::Corrupt(format!("stack package list: {e}")))?,
        None => Vec::new(),
    };
    Ok(BuildRecord {
        id: column(row, "id")?,
        status: status.parse()?,
        source: column(row, "source")?,
        git_ref: column(row, "git_ref")?,
        fresh: fresh != 0,
        requested_by: column(row, "requested_by")?,
        coordinate: column(row, "coordinate")?,
        package: column(row, "package_name")?,
        commit: column(row, "commit_id")?,
        worker: column(row, "worker")?,
        stack: column(row, "stack_name")?,
        stack_digest: column(row, "stack_digest")?,
        stack_packages,
        tries: column(row, "tries")?,
        lease_until: column(row, "lease_until")?,
        cancel_requested: cancel != 0,
        created_at: column(row, "created_at")?,
        started_at: column(row, "started_at")?,
        finished_at: column(row, "finished_at")?,
        installed_size: column(row, "installed_size")?,
        package_digest: column(row, "package_digest")?,
        error: column(row, "error")?,
        log_key: column(row, "log_key")?,
        arch: column(row, "arch")?,
        steps: Vec::new(),
        check: check != 0,
        first_worker: column(row, "first_worker")?,
        reproducibility: column(row, "reproducibility")?,
    })
}

/// Milliseconds since the Unix epoch, as the tables store them.
pub fn now_ms() -> i64 {
    i64::try_from(bale_fs::now_ms()).unwrap_or(i64::MAX)
}
