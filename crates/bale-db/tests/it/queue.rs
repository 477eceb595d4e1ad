//! The build queue and build records, on SQLite always and on PostgreSQL
//! when `BALE_TEST_POSTGRES_URL` names a server (required under CI=true).

use std::collections::BTreeSet;

use bale_db::build_log;
use bale_db::builds::{self, BuildFilter, BuildStatus, NewBuild, StepRecord};
use bale_db::queue::{self, BuildEnd, BuildStart, CancelOutcome, Renewal};
use bale_db::Database;

use crate::common::{postgres, sqlite};

fn source(name: &str) -> NewBuild {
    NewBuild {
        source: format!("/src/{name}"),
        git_ref: None,
        fresh: false,
        requested_by: Some("test".into()),
        check: false,
        arch: None,
    }
}

fn succeeded(coordinate: &str) -> BuildEnd {
    BuildEnd {
        status: BuildStatus::Succeeded,
        error: None,
        steps: vec![
            StepRecord {
                name: "source".into(),
                started_at: 1000,
                duration_ms: 5,
                status: "ok".into(),
            },
            StepRecord {
                name: "main".into(),
                started_at: 1005,
                duration_ms: 70,
                status: "ok".into(),
            },
        ],
        start: BuildStart {
            coordinate: Some(coordinate.into()),
            package: coordinate.split(':').nth(1).map(str::to_owned),
            commit: Some("abc123".into()),
            stack: Some("host".into()),
            stack_digest: Some("sha256:00".into()),
            stack_packages: vec!["libc6=2.36".into()],
        },
        installed_size: Some(4096),
        package_digest: Some("sha256:11".into()),
        log_key: Some("logs/builds/1.log".into()),
        reproducibility: None,
    }
}

async fn a_build_goes_from_queued_to_running_to_succeeded_with_its_steps(db: &Database) {
    let submitted = builds::submit(db, &source("hello")).await.unwrap();
    assert_eq!(submitted.status, BuildStatus::Queued);
    assert_eq!(builds::queue_length(db).await.unwrap(), 1);
    let claimed = queue::claim(db, "w1", 30_000)
        .await
        .unwrap()
        .expect("a queued build");
    assert_eq!(
        (claimed.build.id, claimed.attempt, claimed.build.status),
        (submitted.id, 1, BuildStatus::Running)
    );
    assert_eq!(claimed.build.worker.as_deref(), Some("w1"));
    assert!(
        queue::claim(db, "w2", 30_000).await.unwrap().is_none(),
        "a running build is not claimed again"
    );
    assert_eq!(
        queue::renew(db, submitted.id, 1, 30_000).await.unwrap(),
        Renewal::Held
    );
    build_log::append(db, submitted.id, 0, &["building".into()])
        .await
        .unwrap();
    assert!(
        queue::finish(db, submitted.id, 1, &succeeded("org.example:hello:1.0"))
            .await
            .unwrap()
    );
    assert!(
        build_log::read(db, submitted.id, 0, 10)
            .await
            .unwrap()
            .is_empty(),
        "a stored log drops the live lines"
    );
    let build = builds::get(db, submitted.id).await.unwrap().unwrap();
    assert_eq!(build.status, BuildStatus::Succeeded);
    assert_eq!(build.coordinate.as_deref(), Some("org.example:hello:1.0"));
    assert_eq!(build.package.as_deref(), Some("hello"));
    assert_eq!(build.stack_packages, ["libc6=2.36"]);
    assert_eq!(build.installed_size, Some(4096));
    assert_eq!(
        build
            .steps
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["source", "main"]
    );
    assert!(build.finished_at.unwrap() >= build.started_at.unwrap());
    assert_eq!(build.lease_until, None);
    let attempts = builds::attempts(db, submitted.id).await.unwrap();
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome.as_deref(), Some("succeeded"));
    // A finished build cannot be finished again.
    assert!(
        !queue::finish(db, submitted.id, 1, &succeeded("org.example:hello:1.0"))
            .await
            .unwrap()
    );
    assert_eq!(
        queue::renew(db, submitted.id, 1, 30_000).await.unwrap(),
        Renewal::Lost
    );
}
on_each_backend!(a_build_goes_from_queued_to_running_to_succeeded_with_its_steps);

async fn concurrent_workers_claim_every_build_exactly_once(db: &Database) {
    let mut ids = BTreeSet::new();
    for i in 0..30 {
        ids.insert(
            builds::submit(db, &source(&format!("p{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    let mut tasks = Vec::new();
    for w in 0..6 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(claimed) = queue::claim(&db, &format!("w{w}"), 30_000).await.unwrap() {
                assert_eq!(claimed.attempt, 1);
                mine.push(claimed.build.id);
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.unwrap());
    }
    let unique: BTreeSet<_> = claimed.iter().copied().collect();
    assert_eq!(
        claimed.len(),
        unique.len(),
        "no build was claimed twice: {claimed:?}"
    );
    assert_eq!(unique, ids, "every build was claimed");
    assert_eq!(builds::queue_length(db).await.unwrap(), 0);
}
on_each_backend!(concurrent_workers_claim_every_build_exactly_once);

async fn an_expired_lease_requeues_the_build_until_the_third_loss_fails_it(db: &Database) {
    let id = builds::submit(db, &source("flaky")).await.unwrap().id;
    for attempt in 1..=3 {
        // A lease already in the past: the worker "died" at once.
        let claimed = queue::claim(db, &format!("w{attempt}"), -1)
            .await
            .unwrap()
            .expect("claimable");
        assert_eq!(claimed.attempt, attempt);
        assert_eq!(queue::requeue_expired(db).await.unwrap(), 1);
        // The lost worker can no longer touch the build.
        assert_eq!(
            queue::renew(db, id, attempt, 30_000).await.unwrap(),
            Renewal::Lost
        );
        assert!(
            !queue::finish(db, id, attempt, &succeeded("org.example:flaky:1"))
                .await
                .unwrap()
        );
        let build = builds::get(db, id).await.unwrap().unwrap();
        if attempt < 3 {
            assert_eq!(build.status, BuildStatus::Queued, "attempt {attempt}");
        } else {
            assert_eq!(build.status, BuildStatus::Failed);
            assert_eq!(build.error.as_deref(), Some("worker lost 3 times"));
        }
    }
    assert!(queue::claim(db, "w4", 30_000).await.unwrap().is_none());
    let attempts = builds::attempts(db, id).await.unwrap();
    assert_eq!(attempts.len(), 3);
    assert!(attempts
        .iter()
        .all(|a| a.outcome.as_deref() == Some("lost")));
    for pair in attempts.windows(2) {
        assert!(
            pair[0].finished_at.unwrap() <= pair[1].started_at,
            "attempts never overlap: {attempts:?}"
        );
    }
    // A live lease is left alone.
    let live = builds::submit(db, &source("live")).await.unwrap().id;
    queue::claim(db, "w5", 60_000).await.unwrap().unwrap();
    assert_eq!(queue::requeue_expired(db).await.unwrap(), 0);
    assert_eq!(
        builds::get(db, live).await.unwrap().unwrap().status,
        BuildStatus::Running
    );
}
on_each_backend!(an_expired_lease_requeues_the_build_until_the_third_loss_fails_it);

async fn a_released_build_is_queued_at_once_and_its_worker_lets_go(db: &Database) {
    let id = builds::submit(db, &source("released")).await.unwrap().id;
    // A lease far in the future: only the release makes the build claimable.
    let claimed = queue::claim(db, "stopping", 3_600_000)
        .await
        .unwrap()
        .unwrap();
    assert!(queue::release(db, id, claimed.attempt).await.unwrap());
    assert_eq!(
        builds::get(db, id).await.unwrap().unwrap().status,
        BuildStatus::Queued
    );
    assert_eq!(
        queue::renew(db, id, claimed.attempt, 30_000).await.unwrap(),
        Renewal::Lost
    );
    assert!(
        !queue::release(db, id, claimed.attempt).await.unwrap(),
        "an attempt that let go holds nothing"
    );
    let again = queue::claim(db, "other", 30_000)
        .await
        .unwrap()
        .expect("claimable again");
    assert_eq!((again.build.id, again.attempt), (id, 2));
    let attempts = builds::attempts(db, id).await.unwrap();
    assert_eq!(attempts[0].outcome.as_deref(), Some("lost"));
}
on_each_backend!(a_released_build_is_queued_at_once_and_its_worker_lets_go);

async fn cancel_stops_queued_builds_at_once_and_asks_running_ones(db: &Database) {
    let queued = builds::submit(db, &source("a")).await.unwrap().id;
    assert_eq!(
        queue::request_cancel(db, queued).await.unwrap(),
        CancelOutcome::Canceled
    );
    assert_eq!(
        builds::get(db, queued).await.unwrap().unwrap().status,
        BuildStatus::Canceled
    );
    assert!(
        queue::claim(db, "w", 30_000).await.unwrap().is_none(),
        "a canceled build is never claimed"
    );

    let running = builds::submit(db, &source("b")).await.unwrap().id;
    let claimed = queue::claim(db, "w", 30_000).await.unwrap().unwrap();
    assert_eq!(
        queue::request_cancel(db, running).await.unwrap(),
        CancelOutcome::Requested
    );
    assert_eq!(
        queue::renew(db, running, claimed.attempt, 30_000)
            .await
            .unwrap(),
        Renewal::CancelRequested
    );
    let end = BuildEnd {
        status: BuildStatus::Canceled,
        error: Some("canceled".into()),
        ..succeeded("org.example:b:1")
    };
    assert!(queue::finish(db, running, claimed.attempt, &end)
        .await
        .unwrap());
    assert_eq!(
        queue::request_cancel(db, running).await.unwrap(),
        CancelOutcome::AlreadyFinished(BuildStatus::Canceled)
    );
    assert_eq!(
        queue::request_cancel(db, 999_999).await.unwrap(),
        CancelOutcome::NotFound
    );

    // A running build whose worker died while a cancel was pending ends canceled, not re-queued.
    let orphan = builds::submit(db, &source("c")).await.unwrap().id;
    queue::claim(db, "w", -1).await.unwrap().unwrap();
    assert_eq!(
        queue::request_cancel(db, orphan).await.unwrap(),
        CancelOutcome::Requested
    );
    queue::requeue_expired(db).await.unwrap();
    assert_eq!(
        builds::get(db, orphan).await.unwrap().unwrap().status,
        BuildStatus::Canceled
    );
}
on_each_backend!(cancel_stops_queued_builds_at_once_and_asks_running_ones);

async fn builds_are_listed_by_package_and_status_and_counted(db: &Database) {
    for (name, status) in [
        ("hello", BuildStatus::Succeeded),
        ("hello", BuildStatus::Failed),
        ("other", BuildStatus::Succeeded),
    ] {
        let id = builds::submit(db, &source(name)).await.unwrap().id;
        let claimed = queue::claim(db, "w", 30_000).await.unwrap().unwrap();
        assert_eq!(claimed.build.id, id);
        let end = BuildEnd {
            status,
            ..succeeded(&format!("org.example:{name}:1.{id}"))
        };
        assert!(queue::finish(db, id, 1, &end).await.unwrap());
    }
    builds::submit(db, &source("waiting")).await.unwrap();
    let hello = builds::list(
        db,
        &BuildFilter {
            package: Some("hello".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(hello.len(), 2);
    assert!(hello[0].id > hello[1].id, "newest first");
    let by_group = builds::list(
        db,
        &BuildFilter {
            package: Some("org.example:hello".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(by_group.len(), 2);
    let failed = builds::list(
        db,
        &BuildFilter {
            status: Some(BuildStatus::Failed),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].package.as_deref(), Some("hello"));
    let all = builds::list(db, &BuildFilter::default()).await.unwrap();
    assert_eq!(all.len(), 4);
    let stats = builds::stats(db).await.unwrap();
    let count = |s: &str| {
        stats
            .iter()
            .find(|x| x.status == s)
            .map(|x| x.count)
            .unwrap_or(0)
    };
    assert_eq!(
        (count("succeeded"), count("failed"), count("queued")),
        (2, 1, 1)
    );
    let timed: i64 = stats.iter().map(|s| s.timed).sum();
    assert_eq!(timed, 3, "finished builds have a run time: {stats:?}");
}
on_each_backend!(builds_are_listed_by_package_and_status_and_counted);

async fn live_log_lines_are_appended_read_in_order_and_cleared(db: &Database) {
    let id = builds::submit(db, &source("log")).await.unwrap().id;
    assert_eq!(build_log::next_seq(db, id).await.unwrap(), 0);
    build_log::append(db, id, 0, &["one".into(), "two".into()])
        .await
        .unwrap();
    build_log::append(db, id, 2, &["three".into()])
        .await
        .unwrap();
    assert_eq!(build_log::next_seq(db, id).await.unwrap(), 3);
    let lines = build_log::read(db, id, 1, 10).await.unwrap();
    assert_eq!(
        lines.iter().map(|l| l.line.as_str()).collect::<Vec<_>>(),
        ["two", "three"]
    );
    assert_eq!(lines[0].seq, 1);
    build_log::clear(db, id).await.unwrap();
    assert!(build_log::read(db, id, 0, 10).await.unwrap().is_empty());
}
on_each_backend!(live_log_lines_are_appended_read_in_order_and_cleared);

async fn a_secret_in_a_build_s_error_or_log_is_never_stored(db: &Database) {
    let key_line = format!("RWQAAEIy{}", "Zm9vYmFy".repeat(20));
    let token = format!("bale_{}", "0f".repeat(32));
    let id = builds::submit(db, &source("secret")).await.unwrap().id;
    queue::claim(db, "w", 30_000).await.unwrap().unwrap();
    build_log::append(
        db,
        id,
        0,
        &[
            format!("error: pathspec '{key_line}' did not match"),
            format!("Authorization: Bearer {token}"),
        ],
    )
    .await
    .unwrap();
    let end = BuildEnd {
        status: BuildStatus::Failed,
        error: Some(format!(
            "`git checkout` failed: pathspec '{key_line}' did not match; token {token}"
        )),
        ..succeeded("org.example:secret:1.0")
    };
    assert!(queue::finish(db, id, 1, &end).await.unwrap());
    let record = builds::get(db, id).await.unwrap().unwrap();
    let error = record.error.unwrap_or_default();
    let lines: Vec<String> = build_log::read(db, id, 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect();
    for stored in lines.iter().chain([&error]) {
        assert!(!stored.contains(&key_line), "the key is stored: {stored}");
        assert!(
            !stored.contains(&token[5..]),
            "the token is stored: {stored}"
        );
        assert!(stored.contains("[redacted]"), "{stored}");
    }
}
on_each_backend!(a_secret_in_a_build_s_error_or_log_is_never_stored);

#[test]
fn statuses_round_trip_through_their_names() {
    for status in BuildStatus::ALL {
        assert_eq!(status.as_str().parse::<BuildStatus>().unwrap(), status);
    }
    assert!("done".parse::<BuildStatus>().is_err());
    assert!(!BuildStatus::Running.is_finished() && BuildStatus::TimedOut.is_finished());
}

async fn a_worker_claims_only_for_its_architectures_and_says_which_they_are(db: &Database) {
    let arm64 = builds::submit(
        db,
        &NewBuild {
            arch: Some("arm64".into()),
            ..source("on-arm64")
        },
    )
    .await
    .unwrap();
    let amd64_only = ["amd64".to_owned()];
    assert!(queue::claim_for(db, "w1", 30_000, Some(&amd64_only))
        .await
        .unwrap()
        .is_none());
    let both = ["amd64".to_owned(), "arm64".to_owned()];
    let claimed = queue::claim_for(db, "w2", 30_000, Some(&both))
        .await
        .unwrap()
        .expect("the worker with an arm64 stack claims it");
    assert_eq!(claimed.build.id, arm64.id);
    assert_eq!(
        queue::worker_archs(db, 0).await.unwrap(),
        ["amd64", "arm64"],
        "each architecture once, sorted"
    );
    // A worker not seen since then no longer counts.
    let later = builds::now_ms() + 60_000;
    assert!(queue::worker_archs(db, later).await.unwrap().is_empty());
}
on_each_backend!(a_worker_claims_only_for_its_architectures_and_says_which_they_are);
