//! The database's behaviour, on SQLite always and on PostgreSQL when
//! `BALE_TEST_POSTGRES_URL` names a server where databases may be created.

use bale_db::packages::{self, Claim, NewFile, NewPackage};
use std::time::Duration;

use bale_db::tokens::{self, Revoked, Scope, TokenCheck};
use bale_db::{Backend, Database};

use crate::common::{postgres, sqlite};

/// Runs one behaviour on each available backend.
macro_rules! on_each_backend {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let t = super::sqlite().await;
                super::$body(&t.db).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(t) = super::postgres().await {
                    super::$body(&t.db).await;
                }
            }
        }
    };
}

fn package(coordinate: &str, digest: &str) -> NewPackage {
    let mut parts = coordinate.split(':');
    let (group, name, version) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    NewPackage {
        coordinate: coordinate.to_owned(),
        group: group.to_owned(),
        name: name.to_owned(),
        version: version.to_owned(),
        arch: "amd64".to_owned(),
        digest: digest.to_owned(),
        size: 1234,
        key_id: None,
        index_json: format!("{{\"coordinate\":\"{coordinate}\"}}"),
        files: vec![
            NewFile {
                path: format!("bin/{name}"),
                class: Some("elf-executable".into()),
                sha256: Some("ab".repeat(32)),
                needed: vec!["libc.so.6".into(), "libssl.so.3".into(), "libc.so.6".into()],
            },
            NewFile {
                path: "etc/app.conf".into(),
                class: Some("config".into()),
                sha256: None,
                needed: vec![],
            },
        ],
    }
}

async fn publish(db: &Database, coordinate: &str, digest: &str) {
    assert_eq!(
        packages::claim(db, &package(coordinate, digest))
            .await
            .unwrap(),
        Claim::Claimed
    );
    packages::mark_stored(db, coordinate, "amd64")
        .await
        .unwrap();
}

async fn tokens_are_checked_by_hash_and_scope(db: &Database) {
    let token = tokens::create(db, Scope::Publish).await.unwrap();
    assert!(token.starts_with("bale_") && token.len() > 40);
    assert!(matches!(
        tokens::check(db, &token, Scope::Publish).await.unwrap(),
        TokenCheck::Granted(_)
    ));
    assert_eq!(
        tokens::check(db, &token, Scope::Admin).await.unwrap(),
        TokenCheck::WrongScope(Scope::Publish)
    );
    assert_eq!(
        tokens::check(db, "bale_nope", Scope::Publish)
            .await
            .unwrap(),
        TokenCheck::Unknown
    );
    let stored: Vec<String> = sqlx::query_scalar("SELECT token_sha256 FROM tokens")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert!(
        stored.iter().all(|h| h != &token && h.len() == 64),
        "tokens are stored hashed: {stored:?}"
    );
    let admin = tokens::create(db, Scope::Admin).await.unwrap();
    assert!(matches!(
        tokens::check(db, &admin, Scope::Publish).await.unwrap(),
        TokenCheck::Granted(_)
    ));
}
on_each_backend!(
    tokens_are_checked_by_hash_and_scope_on,
    tokens_are_checked_by_hash_and_scope
);

async fn any_token_reads_and_a_read_token_only_reads(db: &Database) {
    let read = tokens::create(db, Scope::Read).await.unwrap();
    let build = tokens::create(db, Scope::Build).await.unwrap();
    assert!(matches!(
        tokens::check(db, &read, Scope::Read).await.unwrap(),
        TokenCheck::Granted(_)
    ));
    assert!(matches!(
        tokens::check(db, &build, Scope::Read).await.unwrap(),
        TokenCheck::Granted(_)
    ));
    for needed in [Scope::Build, Scope::Publish, Scope::Admin] {
        assert_eq!(
            tokens::check(db, &read, needed).await.unwrap(),
            TokenCheck::WrongScope(Scope::Read)
        );
    }
}
on_each_backend!(
    any_token_reads_and_a_read_token_only_reads_on,
    any_token_reads_and_a_read_token_only_reads
);

async fn an_expired_token_is_refused_as_expired(db: &Database) {
    let lasting =
        tokens::create_expiring(db, Scope::Publish, Some(Duration::from_secs(90 * 86_400)))
            .await
            .unwrap();
    let now = i64::try_from(bale_fs::now_secs()).unwrap();
    let expires = lasting.expires_at.unwrap();
    assert!((now + 90 * 86_400 - 5..=now + 90 * 86_400 + 5).contains(&expires));
    assert_eq!(
        tokens::check(db, &lasting.token, Scope::Publish)
            .await
            .unwrap(),
        TokenCheck::Granted(lasting.id)
    );
    // A token past its time, as the clock will make every expiring token.
    sqlx::query("UPDATE tokens SET expires_at = $1 WHERE id = $2")
        .bind(now - 1)
        .bind(lasting.id)
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(
        tokens::check(db, &lasting.token, Scope::Publish)
            .await
            .unwrap(),
        TokenCheck::Expired(now - 1)
    );
    let listed = tokens::list(db).await.unwrap();
    assert_eq!(listed[0].state(now), "expired");
}
on_each_backend!(
    an_expired_token_is_refused_as_expired_on,
    an_expired_token_is_refused_as_expired
);

async fn a_revoked_token_is_refused_and_listed_without_its_secret(db: &Database) {
    let first = tokens::create_expiring(db, Scope::Build, None)
        .await
        .unwrap();
    let second = tokens::create_expiring(db, Scope::Admin, None)
        .await
        .unwrap();
    assert!(matches!(
        tokens::check(db, &first.token, Scope::Build).await.unwrap(),
        TokenCheck::Granted(_)
    ));
    assert_eq!(tokens::revoke(db, first.id).await.unwrap(), Revoked::Now);
    assert_eq!(
        tokens::revoke(db, first.id).await.unwrap(),
        Revoked::Already
    );
    assert_eq!(tokens::revoke(db, 999_999).await.unwrap(), Revoked::Unknown);
    assert_eq!(
        tokens::check(db, &first.token, Scope::Build).await.unwrap(),
        TokenCheck::Revoked
    );
    assert!(matches!(
        tokens::check(db, &second.token, Scope::Admin)
            .await
            .unwrap(),
        TokenCheck::Granted(_)
    ));
    let listed = tokens::list(db).await.unwrap();
    let now = i64::try_from(bale_fs::now_secs()).unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|t| (t.id, t.scope, t.state(now)))
            .collect::<Vec<_>>(),
        vec![
            (first.id, Scope::Build, "revoked"),
            (second.id, Scope::Admin, "active")
        ]
    );
    assert!(listed[0].last_used_at.is_some() && listed[1].last_used_at.is_some());
    let json = serde_json::to_string(&listed).unwrap();
    assert!(!json.contains(&first.token[5..]) && !json.contains(&second.token[5..]));
}
on_each_backend!(
    a_revoked_token_is_refused_and_listed_without_its_secret_on,
    a_revoked_token_is_refused_and_listed_without_its_secret
);

async fn concurrent_claims_of_one_coordinate_have_one_winner(db: &Database) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let digest = if i % 2 == 0 { "sha256:aa" } else { "sha256:bb" };
            (
                digest,
                packages::claim(&db, &package("org.example:hello:2.10", digest))
                    .await
                    .unwrap(),
            )
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (digest, claim) = task.await.unwrap();
        match claim {
            Claim::Claimed => winners.push(digest),
            Claim::Existing(record) => assert_eq!(record.coordinate, "org.example:hello:2.10"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claim wins: {winners:?}");
    let record = packages::get(db, "org.example:hello:2.10", "amd64")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.digest, winners[0]);
    assert!(!record.stored);
}
on_each_backend!(
    concurrent_claims_of_one_coordinate_have_one_winner_on,
    concurrent_claims_of_one_coordinate_have_one_winner
);

async fn unstored_packages_are_invisible_to_readers(db: &Database) {
    packages::claim(db, &package("org.example:hello:1.0", "sha256:aa"))
        .await
        .unwrap();
    assert!(packages::versions(db, "org.example", "hello")
        .await
        .unwrap()
        .is_empty());
    assert!(packages::search_name(db, "hello").await.unwrap().is_empty());
    assert!(packages::search_file(db, "bin/hello")
        .await
        .unwrap()
        .is_empty());
    packages::mark_stored(db, "org.example:hello:1.0", "amd64")
        .await
        .unwrap();
    assert_eq!(
        packages::versions(db, "org.example", "hello")
            .await
            .unwrap()
            .len(),
        1
    );
}
on_each_backend!(
    unstored_packages_are_invisible_to_readers_on,
    unstored_packages_are_invisible_to_readers
);

async fn search_finds_packages_by_name_file_and_library(db: &Database) {
    publish(db, "org.example:hello:1.0", "sha256:01").await;
    publish(db, "org.example:hello:2.10", "sha256:02").await;
    publish(db, "org.other:hello-web:0.1", "sha256:03").await;
    publish(db, "org.other:zlib_x:1", "sha256:04").await;

    let versions: Vec<_> = packages::versions(db, "org.example", "hello")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(versions, ["1.0", "2.10"]);

    let names: Vec<_> = packages::search_name(db, "HELLO")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.coordinate)
        .collect();
    assert_eq!(
        names,
        [
            "org.example:hello:1.0",
            "org.example:hello:2.10",
            "org.other:hello-web:0.1"
        ]
    );
    // `_` is a literal, not a LIKE wildcard.
    let names: Vec<_> = packages::search_name(db, "b_x")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.coordinate)
        .collect();
    assert_eq!(names, ["org.other:zlib_x:1"]);
    assert!(packages::search_name(db, "o-w_").await.unwrap().is_empty());

    let hits = packages::search_file(db, "/bin/hello").await.unwrap();
    let coords: Vec<_> = hits.iter().map(|h| h.coordinate.as_str()).collect();
    assert_eq!(coords, ["org.example:hello:1.0", "org.example:hello:2.10"]);
    assert_eq!(hits[0].class.as_deref(), Some("elf-executable"));

    let hits = packages::search_library(db, "libssl.so.3").await.unwrap();
    assert_eq!(hits.len(), 4);
    assert!(hits
        .iter()
        .all(|h| h.soname == "libssl.so.3" && h.path.starts_with("bin/")));
    assert!(packages::search_library(db, "libnothing.so")
        .await
        .unwrap()
        .is_empty());
}
on_each_backend!(
    search_finds_packages_by_name_file_and_library_on,
    search_finds_packages_by_name_file_and_library
);

async fn a_signature_key_is_recorded_once(db: &Database) {
    publish(db, "org.example:hello:1.0", "sha256:01").await;
    assert!(
        packages::set_key_id(db, "org.example:hello:1.0", "amd64", "KEY1")
            .await
            .unwrap()
    );
    assert!(
        !packages::set_key_id(db, "org.example:hello:1.0", "amd64", "KEY2")
            .await
            .unwrap()
    );
    let record = packages::get(db, "org.example:hello:1.0", "amd64")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.key_id.as_deref(), Some("KEY1"));
    assert_eq!(record.size, 1234);
}
on_each_backend!(
    a_signature_key_is_recorded_once_on,
    a_signature_key_is_recorded_once
);

#[tokio::test]
async fn sqlite_runs_in_wal_mode_and_reopens_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = Database::sqlite_url(&dir.path().join("bale.db"));
    let db = Database::connect(&url).await.unwrap();
    assert_eq!(db.backend(), Backend::Sqlite);
    let token = tokens::create(&db, Scope::Build).await.unwrap();
    db.close().await;
    let db = Database::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    assert!(matches!(
        tokens::check(&db, &token, Scope::Build).await.unwrap(),
        TokenCheck::Granted(_)
    ));
}

#[tokio::test]
async fn an_unknown_database_url_is_refused_with_advice() {
    let err = Database::connect("mysql://localhost/bale")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sqlite://"), "{err}");
}

async fn a_released_claim_frees_the_coordinate(db: &Database) {
    packages::claim(db, &package("org.example:hello:1.0", "sha256:aa"))
        .await
        .unwrap();
    // Another digest cannot release it.
    packages::release(db, "org.example:hello:1.0", "amd64", "sha256:bb")
        .await
        .unwrap();
    assert!(packages::get(db, "org.example:hello:1.0", "amd64")
        .await
        .unwrap()
        .is_some());
    packages::release(db, "org.example:hello:1.0", "amd64", "sha256:aa")
        .await
        .unwrap();
    assert!(packages::get(db, "org.example:hello:1.0", "amd64")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        packages::claim(db, &package("org.example:hello:1.0", "sha256:bb"))
            .await
            .unwrap(),
        Claim::Claimed
    );
    // A stored package is never released.
    packages::mark_stored(db, "org.example:hello:1.0", "amd64")
        .await
        .unwrap();
    packages::release(db, "org.example:hello:1.0", "amd64", "sha256:bb")
        .await
        .unwrap();
    assert!(packages::get(db, "org.example:hello:1.0", "amd64")
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        packages::search_file(db, "bin/hello").await.unwrap().len(),
        1
    );
}
on_each_backend!(
    a_released_claim_frees_the_coordinate_on,
    a_released_claim_frees_the_coordinate
);

async fn each_architecture_of_a_coordinate_is_its_own_claim(db: &Database) {
    let amd64 = package("org.example:multi:1.0", "sha256:aa");
    let arm64 = NewPackage {
        arch: "arm64".into(),
        digest: "sha256:bb".into(),
        ..package("org.example:multi:1.0", "sha256:bb")
    };
    assert_eq!(packages::claim(db, &amd64).await.unwrap(), Claim::Claimed);
    assert_eq!(packages::claim(db, &arm64).await.unwrap(), Claim::Claimed);
    let other_bytes = NewPackage {
        digest: "sha256:cc".into(),
        ..arm64.clone()
    };
    match packages::claim(db, &other_bytes).await.unwrap() {
        Claim::Existing(record) => {
            assert_eq!(
                (record.arch.as_str(), record.digest.as_str()),
                ("arm64", "sha256:bb")
            )
        }
        Claim::Claimed => panic!("a second arm64 content claimed the coordinate"),
    }
    for arch in ["amd64", "arm64"] {
        packages::mark_stored(db, "org.example:multi:1.0", arch)
            .await
            .unwrap();
    }
    let archs: Vec<_> = packages::get_all(db, "org.example:multi:1.0")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.arch)
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    let hits = packages::search_file(db, "bin/multi").await.unwrap();
    let hit_archs: Vec<_> = hits.iter().map(|h| h.arch.as_str()).collect();
    assert_eq!(hit_archs, ["amd64", "arm64"]);
}
on_each_backend!(
    each_architecture_of_a_coordinate_is_its_own_claim_on,
    each_architecture_of_a_coordinate_is_its_own_claim
);
