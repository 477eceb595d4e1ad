//! bale's database: SQLite (embedded, the default) or PostgreSQL.
//!
//! One portable SQL dialect through sqlx's `Any` driver; each backend has its
//! own migrations, applied when a connection is opened. The repository keeps
//! its tokens and package records here so that search never scans archives;
//! the build service keeps its queue, build records and live logs.

use std::path::Path;
use std::str::FromStr;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::AnyPool;

pub mod build_log;
pub mod builds;
pub mod packages;
pub mod queue;
pub mod scrub;
pub mod tokens;

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no backend bale supports.
    #[error("unsupported database URL `{0}`: use `sqlite:///path/to/bale.db` or `postgres://user@host/db`")]
    UnsupportedUrl(String),
    /// The database could not be opened or reached.
    #[error("cannot open the database at {url} (check that the path is writable or the server is running)")]
    Connect {
        /// The URL with any password removed.
        url: String,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
    },
    /// A migration failed.
    #[error(
        "cannot bring the database schema up to date (was the database changed by a newer bale?)"
    )]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database query failed")]
    Query(#[from] sqlx::Error),
    /// A token scope that bale does not know.
    #[error("unknown token scope `{0}`: use read, build, publish or admin")]
    UnknownScope(String),
    /// The operating system could not supply random bytes for a token.
    #[error("cannot generate a token: the system's random source failed ({0})")]
    Random(String),
    /// A build status that bale does not know.
    #[error("unknown build status `{0}`: use queued, running, succeeded, failed, timed-out, canceled or not-reproducible")]
    UnknownStatus(String),
    /// A stored value is not what bale wrote.
    #[error("the database holds an unexpected value: {0}")]
    Corrupt(String),
}

impl DbError {
    /// Whether bale itself failed (a query, the random source, what it
    /// stored), not the URL, the server's reachability or the user's input.
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            DbError::Query(_) | DbError::Random(_) | DbError::Corrupt(_)
        )
    }
}

/// Which database server is behind a [`Database`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (WAL mode).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// An open, migrated database.
#[derive(Debug, Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
}

impl Database {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    ///
    /// `sqlite:///abs/path.db`, `sqlite:relative.db` and `postgres://…` are accepted.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalise_url(url)?;
        let shown = redact(&url);
        if backend == Backend::Sqlite {
            if let Some(parent) =
                sqlite_path(&url).and_then(|p| Path::new(p).parent().map(Path::to_path_buf))
            {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(&parent).map_err(|e| DbError::Connect {
                        url: shown.clone(),
                        source: sqlx::Error::Io(e),
                    })?;
                }
            }
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 10 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // In WAL mode NORMAL keeps the database consistent across
                        // crashes and skips an fsync per commit; a power cut may
                        // lose the last commits, which the queue's leases retry.
                        sqlx::query("PRAGMA synchronous = NORMAL")
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA busy_timeout = 10000")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|source| DbError::Connect {
                url: shown.clone(),
                source,
            })?;
        let db = Self { pool, backend };
        if backend == Backend::Sqlite {
            // WAL lets readers proceed while a publish writes; the mode is stored in the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&db.pool)
                .await?;
        }
        match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(&db.pool).await?,
            Backend::Postgres => sqlx::migrate!("migrations/postgres").run(&db.pool).await?,
        }
        Ok(db)
    }

    /// The URL of the embedded SQLite database at `path`.
    pub fn sqlite_url(path: &Path) -> String {
        format!("sqlite://{}", path.display())
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for crates that keep their own tables here.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Closes every connection; pending work finishes first.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Seconds since the Unix epoch, the portable timestamp of every table.
pub(crate) fn now() -> i64 {
    i64::try_from(bale_fs::now_secs()).unwrap_or(i64::MAX)
}

/// Reads a column, naming it in the error.
pub(crate) fn column<'r, T>(row: &'r AnyRow, name: &str) -> Result<T, DbError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(name).map_err(DbError::Query)
}

fn normalise_url(url: &str) -> Result<(Backend, String), DbError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned()));
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        // Create the file when missing; the `Any` driver passes `mode` through.
        let url = if rest.contains("mode=") {
            url.to_owned()
        } else if rest.contains('?') {
            format!("{url}&mode=rwc")
        } else {
            format!("{url}?mode=rwc")
        };
        return Ok((Backend::Sqlite, url));
    }
    Err(DbError::UnsupportedUrl(redact(url)))
}

fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl FromStr for Backend {
    type Err = DbError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        normalise_url(url).map(|(backend, _)| backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://bale:secret@db/bale"),
            "postgres://bale:***@db/bale"
        );
        assert_eq!(redact("sqlite:///x.db"), "sqlite:///x.db");
    }

    #[test]
    fn sqlite_urls_are_created_when_missing() {
        let (backend, url) = normalise_url("sqlite:///tmp/x/bale.db").unwrap();
        assert_eq!(backend, Backend::Sqlite);
        assert_eq!(url, "sqlite:///tmp/x/bale.db?mode=rwc");
        assert_eq!(sqlite_path(&url), Some("/tmp/x/bale.db"));
        assert!(normalise_url("mysql://x").is_err());
    }
}
