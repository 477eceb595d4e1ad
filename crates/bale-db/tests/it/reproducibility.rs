//! The queue of reproducibility checks: the second build is left to another
//! live worker, or taken by the first one when it is alone.

use bale_db::builds::{self, BuildStatus, NewBuild};
use bale_db::queue::{self, BuildEnd, BuildStart, Rebuild};
use bale_db::Database;

use crate::common::{postgres, sqlite};

fn checked(name: &str) -> NewBuild {
    NewBuild {
        source: format!("/src/{name}"),
        requested_by: Some("test".into()),
        check: true,
        ..NewBuild::default()
    }
}

fn rebuild(worker: &str) -> Rebuild {
    Rebuild {
        first_worker: worker.into(),
        reproducibility: format!(r#"{{"outcome":"pending","first_worker":"{worker}"}}"#),
        steps: Vec::new(),
        start: BuildStart {
            coordinate: Some("org.example:c:1".into()),
            commit: Some("abc123".into()),
            ..BuildStart::default()
        },
    }
}

async fn the_second_build_of_a_check_is_left_to_another_live_worker(db: &Database) {
    let id = builds::submit(db, &checked("c")).await.unwrap().id;
    let first = queue::claim(db, "worker-a", 30_000).await.unwrap().unwrap();
    assert!(first.build.check && !first.build.is_rebuild());
    // worker-b looks for work (and finds none): it is live.
    assert!(queue::claim(db, "worker-b", 30_000)
        .await
        .unwrap()
        .is_none());
    assert!(
        queue::queue_rebuild(db, id, first.attempt, &rebuild("worker-a"))
            .await
            .unwrap()
    );
    let waiting = builds::get(db, id).await.unwrap().unwrap();
    assert_eq!(waiting.status, BuildStatus::Queued);
    assert_eq!(waiting.commit.as_deref(), Some("abc123"));
    assert_eq!(
        builds::attempts(db, id).await.unwrap()[0]
            .outcome
            .as_deref(),
        Some("built")
    );

    assert!(
        queue::claim(db, "worker-a", 30_000)
            .await
            .unwrap()
            .is_none(),
        "the first worker leaves the second build to worker-b"
    );
    let second = queue::claim(db, "worker-b", 30_000).await.unwrap().unwrap();
    assert_eq!(second.build.id, id);
    assert!(second.build.is_rebuild());
    assert_eq!(second.build.first_worker.as_deref(), Some("worker-a"));
    assert_eq!(second.attempt, 2);

    let end = BuildEnd {
        status: BuildStatus::NotReproducible,
        error: Some("not reproducible".into()),
        steps: Vec::new(),
        start: BuildStart::default(),
        installed_size: None,
        package_digest: None,
        log_key: None,
        reproducibility: Some(r#"{"outcome":"not-reproducible"}"#.into()),
    };
    assert!(queue::finish(db, id, second.attempt, &end).await.unwrap());
    let ended = builds::get(db, id).await.unwrap().unwrap();
    assert_eq!(ended.status, BuildStatus::NotReproducible);
    assert_eq!(
        ended.reproducibility.as_deref(),
        Some(r#"{"outcome":"not-reproducible"}"#)
    );
}
on_each_backend!(the_second_build_of_a_check_is_left_to_another_live_worker);

async fn a_worker_alone_builds_the_second_build_of_its_own_check(db: &Database) {
    let id = builds::submit(db, &checked("alone")).await.unwrap().id;
    let first = queue::claim(db, "worker-a", 30_000).await.unwrap().unwrap();
    assert!(
        queue::queue_rebuild(db, id, first.attempt, &rebuild("worker-a"))
            .await
            .unwrap()
    );
    let second = queue::claim(db, "worker-a", 30_000).await.unwrap().unwrap();
    assert_eq!((second.build.id, second.attempt), (id, 2));
    assert!(second.build.is_rebuild());
}
on_each_backend!(a_worker_alone_builds_the_second_build_of_its_own_check);

async fn a_build_not_asked_to_be_checked_is_never_queued_again(db: &Database) {
    let id = builds::submit(
        db,
        &NewBuild {
            check: false,
            ..checked("plain")
        },
    )
    .await
    .unwrap()
    .id;
    let first = queue::claim(db, "worker-a", 30_000).await.unwrap().unwrap();
    assert!(!first.build.check);
    assert!(
        !queue::queue_rebuild(db, id, first.attempt, &rebuild("worker-a"))
            .await
            .unwrap()
    );
    assert_eq!(
        builds::get(db, id).await.unwrap().unwrap().status,
        BuildStatus::Running
    );
}
on_each_backend!(a_build_not_asked_to_be_checked_is_never_queued_again);
