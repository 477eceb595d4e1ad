//! The build queue: atomic claims, leases a worker renews, re-queueing of
//! builds whose worker died, and cancel.
//!
//! A claim and every change to a running build name the attempt (the
//! `tries` count at claim time): a worker whose lease ran out and whose build
//! was claimed again can no longer change it.
//!
//! PostgreSQL claims with `SELECT … FOR UPDATE SKIP LOCKED` inside a
//! transaction, so concurrent workers never wait on each other's rows. SQLite
//! has one writer at a time: the claim runs in a `BEGIN IMMEDIATE`
//! transaction on one connection, which takes the write lock before reading.

use sqlx::pool::PoolConnection;
use sqlx::Any;

use crate::builds::{now_ms, record, BuildRecord, BuildStatus, StepRecord, COLUMNS};
use crate::{column, Backend, Database, DbError};

/// A build lost by its workers this many times is failed instead of re-queued.
pub const MAX_TRIES: i64 = 3;

/// The reason recorded for a build whose workers kept dying.
pub const WORKER_LOST_REASON: &str = "worker lost 3 times";

/// How long the second build of a reproducibility check is left to workers
/// other than the one that made the first package, while one of them is
/// live; after that the first worker builds it again itself.
pub const REBUILD_HOLD_MS: i64 = 60_000;

/// A build a worker now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The build as it was claimed (status running).
    pub build: BuildRecord,
    /// Which attempt this is (1 for the first claim); every later call names it.
    pub attempt: i64,
}

/// What a lease renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The lease runs on.
    Held,
    /// The lease runs on, and someone asked to cancel the build.
    CancelRequested,
    /// The build is no longer this attempt's (its lease ran out and it was re-queued or ended).
    Lost,
}

/// What a cancel request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The build was queued and is now canceled.
    Canceled,
    /// The build is running; its worker will stop it.
    Requested,
    /// The build had already ended with this status.
    AlreadyFinished(BuildStatus),
    /// No build has this id.
    NotFound,
}

/// Facts a worker learns once it has read the build's source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildStart {
    /// `group:name:version`.
    pub coordinate: Option<String>,
    /// The package name.
    pub package: Option<String>,
    /// The source commit.
    pub commit: Option<String>,
    /// The stack's name.
    pub stack: Option<String>,
    /// The stack image's digest.
    pub stack_digest: Option<String>,
    /// The stack's packages.
    pub stack_packages: Vec<String>,
}

/// How a build ended, as its worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildEnd {
    /// A finished status (not queued or running).
    pub status: BuildStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// The steps as they ran.
    pub steps: Vec<StepRecord>,
    /// Facts that may only be known at the end (coordinate, commit, stack).
    pub start: BuildStart,
    /// The package's installed size.
    pub installed_size: Option<i64>,
    /// The package's digest.
    pub package_digest: Option<String>,
    /// The stored log's key.
    pub log_key: Option<String>,
    /// The reproducibility check's record (JSON), when the build was checked.
    pub reproducibility: Option<String>,
}

/// What the first build of a reproducibility check hands to the second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuild {
    /// The worker that made the first package.
    pub first_worker: String,
    /// The check's record so far (JSON).
    pub reproducibility: String,
    /// The first build's steps.
    pub steps: Vec<StepRecord>,
    /// What the first build learned (coordinate, commit, stack).
    pub start: BuildStart,
}

/// Claims the oldest queued build for `worker` with a lease of `lease_ms`, or
/// `None`, whatever architecture it was queued for.
pub async fn claim(db: &Database, worker: &str, lease_ms: i64) -> Result<Option<Claimed>, DbError> {
    claim_for(db, worker, lease_ms, None).await
}

/// Claims the oldest queued build for `worker` that it can build: one queued
/// for any architecture, or for one of `archs` (the architectures of its
/// stacks); `None` claims any build.
pub async fn claim_for(
    db: &Database,
    worker: &str,
    lease_ms: i64,
    archs: Option<&[String]>,
) -> Result<Option<Claimed>, DbError> {
    let mut conn = db.pool().acquire().await?;
    begin_write(db, &mut conn).await?;
    let result = claim_in(db.backend(), &mut conn, worker, lease_ms, archs).await;
    end_write(&mut conn, result).await
}

async fn claim_in(
    backend: Backend,
    conn: &mut PoolConnection<Any>,
    worker: &str,
    lease_ms: i64,
    archs: Option<&[String]>,
) -> Result<Option<Claimed>, DbError> {
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let now = now_ms();
    // This worker is live: a second build it made the first package of is
    // left to it only when no other worker is. It says which architectures
    // it claims for: a submit for every supported one asks the live
    // workers ([`worker_archs`]).
    let said = archs.map(|a| a.join(",")).unwrap_or_default();
    sqlx::query(
        "INSERT INTO workers (name, seen_at, archs) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET seen_at = excluded.seen_at, archs = excluded.archs",
    )
    .bind(worker)
    .bind(now)
    .bind(said)
    .execute(&mut **conn)
    .await?;
    // $1..$3 are the worker's own; the architectures follow.
    let only = match archs {
        None => String::new(),
        Some(archs) => {
            let placeholders: Vec<String> = (4..4 + archs.len()).map(|n| format!("${n}")).collect();
            if placeholders.is_empty() {
                " AND arch IS NULL".to_owned()
            } else {
                format!(
                    " AND (arch IS NULL OR arch IN ({}))",
                    placeholders.join(", ")
                )
            }
        }
    };
    let sql = format!(
        "SELECT id FROM builds WHERE status = 'queued' \
         AND (first_worker IS NULL OR first_worker <> $1 OR rebuild_queued_at < $2 \
              OR NOT EXISTS (SELECT 1 FROM workers WHERE name <> $1 AND seen_at >= $3)){only} \
         ORDER BY id LIMIT 1{lock}"
    );
    let mut query = sqlx::query(&sql)
        .bind(worker)
        .bind(now - REBUILD_HOLD_MS)
        .bind(now - lease_ms);
    for arch in archs.unwrap_or_default() {
        query = query.bind(arch);
    }
    let row = query.fetch_optional(&mut **conn).await?;
    let Some(row) = row else { return Ok(None) };
    let id: i64 = column(&row, "id")?;
    let row = sqlx::query(&format!(
        "UPDATE builds SET status = 'running', worker = $1, tries = tries + 1, lease_until = $2, started_at = $3, \
         finished_at = NULL WHERE id = $4 AND status = 'queued' RETURNING {COLUMNS}"
    ))
    .bind(worker)
    .bind(now + lease_ms)
    .bind(now)
    .bind(id)
    .fetch_one(&mut **conn)
    .await?;
    let build = record(&row)?;
    sqlx::query(
        "INSERT INTO build_attempts (build_id, try, worker, started_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(build.tries)
    .bind(worker)
    .bind(now)
    .execute(&mut **conn)
    .await?;
    let attempt = build.tries;
    Ok(Some(Claimed { build, attempt }))
}

/// The architectures the workers seen since `since_ms` (ms since the
/// epoch) claim builds for, each once, sorted.
pub async fn worker_archs(db: &Database, since_ms: i64) -> Result<Vec<String>, DbError> {
    let rows = sqlx::query("SELECT archs FROM workers WHERE seen_at >= $1")
        .bind(since_ms)
        .fetch_all(db.pool())
        .await?;
    let mut archs = std::collections::BTreeSet::new();
    for row in &rows {
        let said: String = column(row, "archs")?;
        archs.extend(said.split(',').filter(|a| !a.is_empty()).map(str::to_owned));
    }
    Ok(archs.into_iter().collect())
}

/// Extends the lease of a held build; says whether it is still held and whether a cancel was asked.
pub async fn renew(
    db: &Database,
    id: i64,
    attempt: i64,
    lease_ms: i64,
) -> Result<Renewal, DbError> {
    let mut tx = begin_relaxed(db).await?;
    let row = sqlx::query(
        "UPDATE builds SET lease_until = $1 WHERE id = $2 AND tries = $3 AND status = 'running' RETURNING cancel_requested",
    )
    .bind(now_ms() + lease_ms)
    .bind(id)
    .bind(attempt)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(match row {
        None => Renewal::Lost,
        Some(row) if column::<i64>(&row, "cancel_requested")? != 0 => Renewal::CancelRequested,
        Some(_) => Renewal::Held,
    })
}

/// Records what a worker learned about a held build; false when it no longer holds it.
pub async fn record_start(
    db: &Database,
    id: i64,
    attempt: i64,
    start: &BuildStart,
) -> Result<bool, DbError> {
    let mut tx = begin_relaxed(db).await?;
    let changed = bind_start(sqlx::query(
        "UPDATE builds SET coordinate = COALESCE($1, coordinate), package_name = COALESCE($2, package_name), \
         commit_id = COALESCE($3, commit_id), stack_name = COALESCE($4, stack_name), \
         stack_digest = COALESCE($5, stack_digest), stack_packages = $6 \
         WHERE id = $7 AND tries = $8 AND status = 'running'",
    ), start)?
    .bind(id)
    .bind(attempt)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(changed > 0)
}

/// A query with a build's facts bound next, in the order the queries name
/// them: coordinate, package, commit, stack, stack digest, and the stack's
/// packages as a JSON list.
fn bind_start<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    start: &'q BuildStart,
) -> Result<sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>, DbError> {
    let packages = serde_json::to_string(&start.stack_packages)
        .map_err(|e| DbError::Corrupt(e.to_string()))?;
    Ok(query
        .bind(start.coordinate.as_deref())
        .bind(start.package.as_deref())
        .bind(start.commit.as_deref())
        .bind(start.stack.as_deref())
        .bind(start.stack_digest.as_deref())
        .bind(packages))
}

/// A transaction whose commit does not wait for the disk on PostgreSQL: for
/// writes that a database crash may lose without harm (a lease renewal, facts
/// that the build's end records again).
async fn begin_relaxed(db: &Database) -> Result<sqlx::Transaction<'static, Any>, DbError> {
    let mut tx = db.pool().begin().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// Ends a held build with its outcome and steps; false when it was no longer held.
///
/// With a stored log (`log_key`), the build's live log lines are dropped in the same transaction.
pub async fn finish(db: &Database, id: i64, attempt: i64, end: &BuildEnd) -> Result<bool, DbError> {
    if !end.status.is_finished() {
        return Err(DbError::Corrupt(format!(
            "a build cannot finish as {}",
            end.status
        )));
    }
    let mut tx = db.pool().begin().await?;
    let now = now_ms();
    let query = sqlx::query(
        "UPDATE builds SET status = $1, error = $2, installed_size = $3, package_digest = $4, log_key = $5, \
         finished_at = $6, lease_until = NULL, coordinate = COALESCE($7, coordinate), \
         package_name = COALESCE($8, package_name), commit_id = COALESCE($9, commit_id), \
         stack_name = COALESCE($10, stack_name), stack_digest = COALESCE($11, stack_digest), \
         stack_packages = CASE WHEN $12 = '[]' THEN stack_packages ELSE $12 END, \
         reproducibility = COALESCE($15, reproducibility) \
         WHERE id = $13 AND tries = $14 AND status = 'running'",
    )
    .bind(end.status.as_str())
    // A build's error is shown to every reader: no secret's shape is stored.
    .bind(end.error.as_deref().map(crate::scrub::scrub))
    .bind(end.installed_size)
    .bind(end.package_digest.as_deref())
    .bind(end.log_key.as_deref())
    .bind(now);
    let changed = bind_start(query, &end.start)?
        .bind(id)
        .bind(attempt)
        .bind(end.reproducibility.as_deref())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    replace_steps(&mut tx, id, &end.steps).await?;
    end_attempt(&mut tx, id, attempt, now, end.status.as_str()).await?;
    if end.log_key.is_some() {
        // The log is in the object store now: its live lines are no longer needed.
        sqlx::query("DELETE FROM build_log_lines WHERE build_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// Puts a build whose first package was made back in the queue for the
/// second build of its reproducibility check, recording the first build's
/// steps and facts; the attempt ends as `built`. False when it was no longer held.
pub async fn queue_rebuild(
    db: &Database,
    id: i64,
    attempt: i64,
    rebuild: &Rebuild,
) -> Result<bool, DbError> {
    let mut tx = db.pool().begin().await?;
    let now = now_ms();
    let query = sqlx::query(
        "UPDATE builds SET status = 'queued', lease_until = NULL, first_worker = $1, rebuild_queued_at = $2, \
         reproducibility = $3, coordinate = COALESCE($4, coordinate), package_name = COALESCE($5, package_name), \
         commit_id = COALESCE($6, commit_id), stack_name = COALESCE($7, stack_name), \
         stack_digest = COALESCE($8, stack_digest), \
         stack_packages = CASE WHEN $9 = '[]' THEN stack_packages ELSE $9 END \
         WHERE id = $10 AND tries = $11 AND status = 'running' AND check_reproducible <> 0",
    )
    .bind(&rebuild.first_worker)
    .bind(now)
    .bind(&rebuild.reproducibility);
    let changed = bind_start(query, &rebuild.start)?
        .bind(id)
        .bind(attempt)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        tx.rollback().await?;
        return Ok(false);
    }
    replace_steps(&mut tx, id, &rebuild.steps).await?;
    end_attempt(&mut tx, id, attempt, now, "built").await?;
    tx.commit().await?;
    Ok(true)
}

/// Replaces a build's recorded steps.
async fn replace_steps(
    tx: &mut sqlx::Transaction<'static, Any>,
    id: i64,
    steps: &[StepRecord],
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM build_steps WHERE build_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for (position, step) in steps.iter().enumerate() {
        sqlx::query(
            "INSERT INTO build_steps (build_id, position, name, started_at, duration_ms, status) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(position as i64)
        .bind(&step.name)
        .bind(step.started_at)
        .bind(step.duration_ms)
        .bind(&step.status)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Records how an attempt ended.
async fn end_attempt(
    tx: &mut sqlx::Transaction<'static, Any>,
    id: i64,
    attempt: i64,
    now: i64,
    outcome: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE build_attempts SET finished_at = $1, outcome = $2 WHERE build_id = $3 AND try = $4",
    )
    .bind(now)
    .bind(outcome)
    .bind(id)
    .bind(attempt)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Puts running builds whose lease ran out back in the queue, or fails them
/// after [`MAX_TRIES`] claims, or cancels them if a cancel was asked.
/// Returns how many builds it changed.
pub async fn requeue_expired(db: &Database) -> Result<u64, DbError> {
    let mut conn = db.pool().acquire().await?;
    begin_write(db, &mut conn).await?;
    let result = requeue_in(db.backend(), &mut conn).await;
    end_write(&mut conn, result).await
}

/// Lets go of attempt `attempt` of build `id` at once, as a worker that is
/// stopping does: the build goes back to the queue (or fails after
/// [`MAX_TRIES`], or is canceled if a cancel was asked) as if its lease had
/// run out. `false` when the attempt no longer held the build.
pub async fn release(db: &Database, id: i64, attempt: i64) -> Result<bool, DbError> {
    let mut conn = db.pool().acquire().await?;
    begin_write(db, &mut conn).await?;
    let result = async {
        let held = sqlx::query(
            "UPDATE builds SET lease_until = 0 WHERE id = $1 AND tries = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(attempt)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if held == 0 {
            return Ok(false);
        }
        requeue_in(db.backend(), &mut conn).await?;
        Ok(true)
    }
    .await;
    end_write(&mut conn, result).await
}

async fn requeue_in(backend: Backend, conn: &mut PoolConnection<Any>) -> Result<u64, DbError> {
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let now = now_ms();
    let rows = sqlx::query(&format!(
        "SELECT id, tries, lease_until, cancel_requested, first_worker FROM builds \
         WHERE status = 'running' AND lease_until < $1 ORDER BY id{lock}"
    ))
    .bind(now)
    .fetch_all(&mut **conn)
    .await?;
    let mut changed = 0;
    for row in rows {
        let id: i64 = column(&row, "id")?;
        let tries: i64 = column(&row, "tries")?;
        let lease_until: i64 = column(&row, "lease_until")?;
        let cancel: i64 = column(&row, "cancel_requested")?;
        // The first build of a check took a claim of its own.
        let first_worker: Option<String> = column(&row, "first_worker")?;
        let limit = MAX_TRIES + i64::from(first_worker.is_some());
        let (status, error) = if cancel != 0 {
            ("canceled", None)
        } else if tries >= limit {
            ("failed", Some(WORKER_LOST_REASON))
        } else {
            ("queued", None)
        };
        let finished = (status != "queued").then_some(now);
        changed += sqlx::query(
            "UPDATE builds SET status = $1, error = COALESCE($2, error), lease_until = NULL, finished_at = $3 \
             WHERE id = $4 AND tries = $5 AND status = 'running'",
        )
        .bind(status)
        .bind(error)
        .bind(finished)
        .bind(id)
        .bind(tries)
        .execute(&mut **conn)
        .await?
        .rows_affected();
        // The lost worker's run ended by its lease's end at the latest.
        sqlx::query("UPDATE build_attempts SET finished_at = $1, outcome = 'lost' WHERE build_id = $2 AND try = $3")
            .bind(lease_until.min(now))
            .bind(id)
            .bind(tries)
            .execute(&mut **conn)
            .await?;
    }
    Ok(changed)
}

/// Cancels a queued build at once, or asks the worker of a running one to stop it.
pub async fn request_cancel(db: &Database, id: i64) -> Result<CancelOutcome, DbError> {
    let now = now_ms();
    let canceled = sqlx::query(
        "UPDATE builds SET status = 'canceled', finished_at = $1, error = 'canceled before it started' \
         WHERE id = $2 AND status = 'queued'",
    )
    .bind(now)
    .bind(id)
    .execute(db.pool())
    .await?
    .rows_affected();
    if canceled > 0 {
        return Ok(CancelOutcome::Canceled);
    }
    let requested =
        sqlx::query("UPDATE builds SET cancel_requested = 1 WHERE id = $1 AND status = 'running'")
            .bind(id)
            .execute(db.pool())
            .await?
            .rows_affected();
    if requested > 0 {
        return Ok(CancelOutcome::Requested);
    }
    let row = sqlx::query("SELECT status FROM builds WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    match row {
        None => Ok(CancelOutcome::NotFound),
        Some(row) => {
            let status: BuildStatus = column::<String>(&row, "status")?.parse()?;
            if status.is_finished() {
                Ok(CancelOutcome::AlreadyFinished(status))
            } else {
                // It changed state between the two updates: ask again.
                Box::pin(request_cancel(db, id)).await
            }
        }
    }
}

/// Starts a transaction that holds the write lock from its start:
/// `BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL (whose rows are locked
/// by the work's own `FOR UPDATE`).
async fn begin_write(db: &Database, conn: &mut PoolConnection<Any>) -> Result<(), DbError> {
    let begin = if db.backend() == Backend::Sqlite {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    sqlx::query(begin).execute(&mut **conn).await?;
    Ok(())
}

/// Commits after work that succeeded, rolls back after work that failed.
async fn end_write<T>(
    conn: &mut PoolConnection<Any>,
    result: Result<T, DbError>,
) -> Result<T, DbError> {
    match result {
        Ok(value) => {
            sqlx::query("COMMIT").execute(&mut **conn).await?;
            Ok(value)
        }
        Err(error) => {
            if sqlx::query("ROLLBACK").execute(&mut **conn).await.is_err() {
                // A connection in an unknown transaction state must not go back to the pool.
                conn.close_on_drop();
            }
            Err(error)
        }
    }
}
