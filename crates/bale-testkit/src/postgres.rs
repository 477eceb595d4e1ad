//! The PostgreSQL server the database tests may use (`BALE_TEST_POSTGRES_URL`).

use std::sync::atomic::{AtomicU64, Ordering};

/// The URL of a PostgreSQL server where databases may be created, from
/// `BALE_TEST_POSTGRES_URL`; `None` (said) when it is not set, and a failed
/// test under `CI=true` (see [`crate::require`]).
pub fn postgres_server() -> Option<String> {
    let url = std::env::var("BALE_TEST_POSTGRES_URL").ok();
    crate::require(
        url.is_some(),
        "BALE_TEST_POSTGRES_URL is not set, so the PostgreSQL variant does not run (scripts/test starts a server)",
    )
    .then_some(url)
    .flatten()
}

/// A name no other test of this run uses: `prefix_PID_N`, fit for a database.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The URL of database `name` on the server of `server_url`.
pub fn database_url(server_url: &str, name: &str) -> String {
    let base = server_url
        .rsplit_once('/')
        .filter(|(base, _)| base.contains("//") && !base.ends_with('/'))
        .map_or(server_url, |(base, _)| base);
    format!("{base}/{name}")
}
