//! The queue's own cost per build, without building: submit N builds, then
//! W workers each claim, renew, record the start, append log lines, finish
//! with steps and drop the live log, as a worker does around every build.
//!
//! `cargo run --release -p bale-service --example queue_bench -- [DATABASE-URL] [N] [W]`
//! (default: a temporary SQLite file, 1000 builds, 2 workers).

use std::time::{Duration, Instant};

use bale_db::builds::{self, BuildStatus, NewBuild, StepRecord};
use bale_db::queue::{self, BuildEnd, BuildStart};
use bale_db::{build_log, Database};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = tempfile::tempdir()?;
    let url = args
        .next()
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| Database::sqlite_url(&dir.path().join("bench.db")));
    let count: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let workers: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2);
    let db = Database::connect(&url).await?;

    let started = Instant::now();
    for n in 0..count {
        builds::submit(
            &db,
            &NewBuild {
                source: format!("/src/noop-{n}"),
                requested_by: Some("bench".into()),
                arch: None,
                ..NewBuild::default()
            },
        )
        .await?;
    }
    let submit = started.elapsed();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            work(&db, &format!("bench-{w}")).await
        }));
    }
    let mut done = 0;
    for task in tasks {
        done += task.await??;
    }
    let work_time = started.elapsed();
    let backend = if url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let per = |d: Duration| d.as_secs_f64() * 1000.0 / count as f64;
    println!(
        "queue on {backend}: {count} builds, {workers} workers: submit {:.2} ms/build, claim+lease+log+record {:.2} ms/build (wall), total {:.2} ms/build; {done} recorded",
        per(submit),
        per(work_time),
        per(submit + work_time)
    );
    db.close().await;
    Ok(())
}

/// One worker's loop around no-op builds; returns how many it recorded.
async fn work(db: &Database, name: &str) -> Result<usize, bale_db::DbError> {
    let mut done = 0;
    while let Some(claimed) = queue::claim(db, name, 30_000).await? {
        let id = claimed.build.id;
        queue::renew(db, id, claimed.attempt, 30_000).await?;
        let start = BuildStart {
            coordinate: Some(format!("org.example:noop:1.0.{id}")),
            package: Some("noop".into()),
            stack: Some("host".into()),
            stack_digest: Some("host".into()),
            ..BuildStart::default()
        };
        queue::record_start(db, id, claimed.attempt, &start).await?;
        let lines: Vec<String> = (0..8).map(|n| format!("line {n} of build {id}")).collect();
        build_log::append(db, id, 0, &lines).await?;
        let _ = build_log::read(db, id, 0, i64::MAX).await?;
        let steps = [
            "stack",
            "dependencies",
            "source",
            "before",
            "main",
            "after",
            "finalize",
            "collect",
            "pack",
            "test",
        ]
        .iter()
        .map(|name| StepRecord {
            name: (*name).into(),
            started_at: 0,
            duration_ms: 1,
            status: "ok".into(),
        })
        .collect();
        let end = BuildEnd {
            status: BuildStatus::Succeeded,
            error: None,
            steps,
            start,
            installed_size: Some(6),
            package_digest: Some("sha256:00".into()),
            log_key: Some(format!("logs/builds/{id}.log")),
            reproducibility: None,
        };
        queue::finish(db, id, claimed.attempt, &end).await?;
        done += 1;
    }
    Ok(done)
}
