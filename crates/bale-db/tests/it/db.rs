//! The database's behaviour, on SQLite always and on PostgreSQL when
//! `BALE_TEST_POSTGRES_URL` names a server where databases may be created.

use bale_db::packages::{self, Claim, NewFile, NewPackage};
use bale_db::tokens::{self, Scope, TokenCheck};
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
    packages::mark_stored(db, coordinate).await.unwrap();
}

async fn tokens_are_checked_by_hash_and_scope(db: &Database) {
    let token = tokens::create(db, Scope::Publish).await.unwrap();
    assert!(token.starts_with("bale_") && token.len() > 40);
    assert_eq!(
        tokens::check(db, &token, Scope::Publish).await.unwrap(),
        TokenCheck::Granted
    );
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
    assert_eq!(
        tokens::check(db, &admin, Scope::Publish).await.unwrap(),
        TokenCheck::Granted
    );
}
on_each_backend!(
    tokens_are_checked_by_hash_and_scope_on,
    tokens_are_checked_by_hash_and_scope
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
    let record = packages::get(db, "org.example:hello:2.10")
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
    packages::mark_stored(db, "org.example:hello:1.0")
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
    assert!(packages::set_key_id(db, "org.example:hello:1.0", "KEY1")
        .await
        .unwrap());
    assert!(!packages::set_key_id(db, "org.example:hello:1.0", "KEY2")
        .await
        .unwrap());
    let record = packages::get(db, "org.example:hello:1.0")
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
    assert_eq!(
        tokens::check(&db, &token, Scope::Build).await.unwrap(),
        TokenCheck::Granted
    );
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
    packages::release(db, "org.example:hello:1.0", "sha256:bb")
        .await
        .unwrap();
    assert!(packages::get(db, "org.example:hello:1.0")
        .await
        .unwrap()
        .is_some());
    packages::release(db, "org.example:hello:1.0", "sha256:aa")
        .await
        .unwrap();
    assert!(packages::get(db, "org.example:hello:1.0")
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
    packages::mark_stored(db, "org.example:hello:1.0")
        .await
        .unwrap();
    packages::release(db, "org.example:hello:1.0", "sha256:bb")
        .await
        .unwrap();
    assert!(packages::get(db, "org.example:hello:1.0")
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
