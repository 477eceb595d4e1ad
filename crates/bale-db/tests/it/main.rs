//! The integration tests of `bale-db`, one binary: each module is one area.

/// Runs `async fn $name(&Database)` of the module as two tests: on SQLite,
/// and on PostgreSQL when `BALE_TEST_POSTGRES_URL` names a server (required
/// under CI=true). The module imports `sqlite` and `postgres` from `common`.
macro_rules! on_each_backend {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let t = super::sqlite().await;
                super::$name(&t.db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(t) = super::postgres().await {
                    super::$name(&t.db).await;
                }
            }
        }
    };
}

mod arch_migration;
mod common;
mod db;
mod queue;
mod reproducibility;
