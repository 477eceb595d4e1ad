//! `bale serve`'s repository role: the tree over HTTP, publishing, and `/api/v1`.

mod api;
pub mod auth;
mod problem;
pub(crate) mod publish;
mod tree;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use bale_db::Database;
use bale_home::Home;

pub use problem::{json_errors, ApiError};
pub use publish::SIGNATURE_HEADER;

use crate::{RepoError, Storage};

/// Where `bale serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = bale_home::DEFAULT_LISTEN;
/// The largest upload accepted unless configured: 4 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 4 << 30;

/// Everything the repository server needs to know.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// A directory, `file:///dir` or `s3://bucket?endpoint=…`.
    pub storage_url: String,
    /// Extra S3 settings (`aws_access_key_id`, `region`, …) besides the URL and environment.
    pub storage_options: Vec<(String, String)>,
    /// `sqlite:///path/bale.db` or `postgres://…`.
    pub database_url: String,
    /// The public keys whose signatures the repository accepts (`*.pub`), read at each publish.
    pub trusted_keys_dir: PathBuf,
    /// Accept packages without a signature.
    pub allow_unsigned: bool,
    /// Uploads larger than this are refused with 413.
    pub max_upload_bytes: u64,
    /// Where uploads are received before they are checked; never served.
    pub scratch_dir: PathBuf,
    /// Every read needs a token (`[server] private = true`); health and the API document stay open.
    pub private: bool,
}

impl ServeOptions {
    /// The defaults for a machine whose state is `home`: local storage in
    /// `repo/`, SQLite in `bale.db`, trusted keys in `keys/trusted/`.
    pub fn for_home(home: &Home) -> ServeOptions {
        ServeOptions {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 7070))),
            storage_url: home.repo_dir().display().to_string(),
            storage_options: Vec::new(),
            database_url: Database::sqlite_url(&home.db_path()),
            trusted_keys_dir: home.trusted_keys_dir(),
            allow_unsigned: false,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            scratch_dir: home.tmp_dir().join("uploads"),
            private: false,
        }
    }
}

/// The repository a server serves: storage, database and publishing policy.
#[derive(Debug, Clone)]
pub struct Repository {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    storage: Storage,
    db: Database,
    options: ServeOptions,
}

impl Repository {
    /// Opens storage and database as `options` say.
    pub async fn open(options: &ServeOptions) -> Result<Repository, RepoError> {
        let storage = Storage::open(&options.storage_url, &options.storage_options)?;
        // Fail at start, not at the first request, when the store cannot be reached.
        storage.head(".bale-probe").await?;
        let db = Database::connect(&options.database_url).await?;
        Repository::from_parts(storage, db, options)
    }

    /// A repository over storage and a database that are already open.
    ///
    /// Uploads left in the scratch directory by a server that died are removed.
    pub fn from_parts(
        storage: Storage,
        db: Database,
        options: &ServeOptions,
    ) -> Result<Repository, RepoError> {
        let scratch = &options.scratch_dir;
        std::fs::create_dir_all(scratch).map_err(|e| RepoError::io(scratch, e))?;
        publish::remove_stale_uploads(scratch)?;
        Ok(Repository {
            inner: Arc::new(Inner {
                storage,
                db,
                options: options.clone(),
            }),
        })
    }

    /// The storage behind the tree.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// The database holding tokens and package records.
    pub fn database(&self) -> &Database {
        &self.inner.db
    }

    /// The options it was opened with.
    pub fn options(&self) -> &ServeOptions {
        &self.inner.options
    }

    /// The HTTP routes: `/api/v1/…` and the tree (GET, HEAD, PUT) for every other path.
    ///
    /// Other roles of `bale serve` merge their own routes into this router,
    /// then close it with [`Repository::guard_reads`].
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/v1/health", get(api::health))
            .route("/api/v1/packages", get(api::list_packages))
            .route("/api/v1/packages/{group}/{name}", get(api::versions))
            .route(
                "/api/v1/packages/{group}/{name}/{version}",
                get(api::package),
            )
            .route("/api/v1/search", get(api::search))
            .route("/api/v1/{*rest}", axum::routing::any(api::unknown))
            .fallback(tree::handle)
            .with_state(self.clone())
            .layer(axum::middleware::from_fn(problem::json_errors))
    }
}

impl Repository {
    /// `router` as served: on a private server every read needs a token.
    pub fn guard_reads(&self, router: Router) -> Router {
        if self.inner.options.private {
            router.layer(axum::middleware::from_fn_with_state(
                self.inner.db.clone(),
                auth::private_reads,
            ))
        } else {
            router
        }
    }
}

/// A server bound to its address, not yet serving.
#[derive(Debug)]
pub struct BoundServer {
    listener: tokio::net::TcpListener,
    repository: Repository,
}

impl BoundServer {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, RepoError> {
        self.listener
            .local_addr()
            .map_err(|e| RepoError::Internal(format!("cannot read the bound address: {e}")))
    }

    /// The repository being served.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), RepoError> {
        let router = self.repository.guard_reads(self.repository.router());
        axum::serve(self.listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| RepoError::Internal(format!("the server stopped: {e}")))
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run(self) -> Result<(), RepoError> {
        self.run_until(shutdown_signal()).await
    }
}

/// Opens the repository and binds its address.
pub async fn bind(options: ServeOptions) -> Result<BoundServer, RepoError> {
    let repository = Repository::open(&options).await?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|source| RepoError::Bind {
            addr: options.listen,
            source,
        })?;
    Ok(BoundServer {
        listener,
        repository,
    })
}

/// `bale serve` (repository role): opens, binds and serves until SIGINT or SIGTERM.
pub async fn serve(options: ServeOptions) -> Result<(), RepoError> {
    let server = bind(options).await?;
    tracing::info!(addr = %server.local_addr()?, storage = server.repository.storage().description(), "serving the repository");
    server.run().await
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
