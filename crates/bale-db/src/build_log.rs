//! The live log of running builds: lines appended by the worker, read by
//! any server process while the build runs. When the build ends the worker
//! stores the whole log in the object store and drops its lines here.

use crate::{column, Database, DbError};

/// One line of a build's log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// Its position in the build's log, from 0.
    pub seq: i64,
    /// The text, without the newline.
    pub line: String,
}

/// The position after the last stored line of a build (0 when there is none).
pub async fn next_seq(db: &Database, build: i64) -> Result<i64, DbError> {
    let row = sqlx::query("SELECT CAST(COALESCE(MAX(seq) + 1, 0) AS BIGINT) AS next FROM build_log_lines WHERE build_id = $1")
        .bind(build)
        .fetch_one(db.pool())
        .await?;
    column(&row, "next")
}

/// Appends lines numbered from `first_seq`, in one transaction.
pub async fn append(
    db: &Database,
    build: i64,
    first_seq: i64,
    lines: &[String],
) -> Result<(), DbError> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut tx = db.pool().begin().await?;
    if db.backend() == crate::Backend::Postgres {
        // A crash of the database may lose the last live lines (the worker
        // stores the whole log at the end anyway); commits need not wait for disk.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
    }
    for (i, line) in lines.iter().enumerate() {
        sqlx::query("INSERT INTO build_log_lines (build_id, seq, line) VALUES ($1, $2, $3)")
            .bind(build)
            .bind(first_seq + i as i64)
            // The last line of defence: no stored line holds a secret's shape.
            .bind(crate::scrub::scrub(line))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The lines of a build from `from_seq` on, at most `limit`.
pub async fn read(
    db: &Database,
    build: i64,
    from_seq: i64,
    limit: i64,
) -> Result<Vec<LogLine>, DbError> {
    let rows = sqlx::query(
        "SELECT seq, line FROM build_log_lines WHERE build_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
    )
    .bind(build)
    .bind(from_seq)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(LogLine {
                seq: column(row, "seq")?,
                line: column(row, "line")?,
            })
        })
        .collect()
}

/// Drops a build's live lines once its log is stored.
pub async fn clear(db: &Database, build: i64) -> Result<(), DbError> {
    sqlx::query("DELETE FROM build_log_lines WHERE build_id = $1")
        .bind(build)
        .execute(db.pool())
        .await?;
    Ok(())
}
