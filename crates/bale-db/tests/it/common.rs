//! A database per test: SQLite always, PostgreSQL when `BALE_TEST_POSTGRES_URL`
//! names a server where databases may be created (required under CI=true).

use bale_db::Database;

/// A database for one test, removed with it.
pub struct TestDb {
    pub db: Database,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = Database::sqlite_url(&dir.path().join("state/bale.db"));
    TestDb {
        db: Database::connect(&url).await.unwrap(),
        _dir: Some(dir),
    }
}

pub async fn postgres() -> Option<TestDb> {
    let url = bale_testkit::postgres_server()?;
    // A fresh database per test keeps tests independent on one server.
    let admin = Database::connect(&url).await.unwrap();
    let name = bale_testkit::unique_name("bale_test");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(admin.pool())
        .await
        .unwrap();
    admin.close().await;
    let db = Database::connect(&bale_testkit::database_url(&url, &name))
        .await
        .unwrap();
    Some(TestDb { db, _dir: None })
}
