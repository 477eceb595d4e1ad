//! Package records from before architectures keep working after the
//! migration that keys packages by coordinate and architecture.

use std::borrow::Cow;

use bale_db::packages;
use bale_db::Database;
use sqlx::migrate::Migrator;

/// The first migration of the architectures round.
const ARCHS: i64 = 20261203120100;

/// Applies the migrations from before architectures to `url`, records two
/// packages as that schema held them, then opens the database (which
/// migrates it) and reads them back by architecture.
async fn old_rows_take_the_arch_of_their_index_else_amd64(url: &str, migrator: Migrator) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let before = Migrator {
        migrations: Cow::Owned(
            migrator
                .migrations
                .iter()
                .filter(|m| m.version < ARCHS)
                .cloned()
                .collect(),
        ),
        ..migrator
    };
    before.run(&pool).await.unwrap();
    for (coordinate, name, index) in [
        (
            "org.example:old:1.0",
            "old",
            r#"{"coordinate":"org.example:old:1.0"}"#,
        ),
        (
            "org.example:arm:1.0",
            "arm",
            r#"{"arch":"arm64","coordinate":"org.example:arm:1.0"}"#,
        ),
    ] {
        sqlx::query(
            "INSERT INTO packages (coordinate, group_name, name, version, digest, size, key_id, index_json, stored, published_at) \
             VALUES ($1, 'org.example', $2, '1.0', 'sha256:aa', 1, NULL, $3, 1, 1)",
        )
        .bind(coordinate)
        .bind(name)
        .bind(index)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO package_files (coordinate, path, class, sha256) VALUES ($1, 'bin/x', 'elf-executable', NULL)")
            .bind(coordinate)
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;

    let db = Database::connect(url).await.unwrap();
    let old = packages::get(&db, "org.example:old:1.0", "amd64")
        .await
        .unwrap()
        .expect("a package without an arch is amd64");
    assert!(old.stored);
    let arm = packages::get(&db, "org.example:arm:1.0", "arm64")
        .await
        .unwrap()
        .expect("a package keeps the arch of its index");
    assert_eq!(arm.arch, "arm64");
    let hits = packages::search_file(&db, "bin/x").await.unwrap();
    let found: Vec<_> = hits
        .iter()
        .map(|h| (h.coordinate.as_str(), h.arch.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("org.example:arm:1.0", "arm64"),
            ("org.example:old:1.0", "amd64")
        ]
    );
}

#[tokio::test]
async fn old_sqlite_rows_take_the_arch_of_their_index_else_amd64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bale.db");
    std::fs::File::create(&path).unwrap();
    old_rows_take_the_arch_of_their_index_else_amd64(
        &Database::sqlite_url(&path),
        sqlx::migrate!("./migrations/sqlite"),
    )
    .await;
}

#[tokio::test]
async fn old_postgres_rows_take_the_arch_of_their_index_else_amd64() {
    let Some(url) = bale_testkit::postgres_server() else {
        return;
    };
    let admin = Database::connect(&url).await.unwrap();
    let name = bale_testkit::unique_name("bale_test");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
    old_rows_take_the_arch_of_their_index_else_amd64(
        &bale_testkit::database_url(&url, &name),
        sqlx::migrate!("./migrations/postgres"),
    )
    .await;
}
