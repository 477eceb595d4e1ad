//! `bale serve` with the service: the repository, the API and local workers
//! in one process.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bale_home::Home;
use bale_repo::{Repository, ServeOptions};
use tokio::sync::watch;

use crate::{Apps, Service, ServiceError, Worker, WorkerOptions};

/// Everything `bale serve` needs.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// The repository's options (address, storage, database, keys, limits).
    pub serve: ServeOptions,
    /// `$BALE_HOME`: stacks, caches, scratch space.
    pub home: Home,
    /// How many builds local workers run at once (0: none; builds wait for `bale worker`s).
    pub workers: usize,
    /// How local workers build (their concurrency is `workers`); its
    /// `allow_local_sources` also decides what submits and webhooks may name.
    pub worker: WorkerOptions,
    /// The shared secret of signed git push webhooks (off when `None`).
    pub hook_secret: Option<String>,
    /// This machine's apps, for the dashboard (none listed when `None`).
    pub apps: Option<Arc<dyn Apps>>,
}

/// A service bound to its address, not yet serving.
#[derive(Debug)]
pub struct BoundService {
    listener: tokio::net::TcpListener,
    service: Service,
    worker: Option<Worker>,
}

/// Opens storage and database, binds the address, prepares local workers.
pub async fn bind(options: ServiceOptions) -> Result<BoundService, ServiceError> {
    let repo = Repository::open(&options.serve).await?;
    let listener = tokio::net::TcpListener::bind(options.serve.listen)
        .await
        .map_err(|source| ServiceError::Bind {
            addr: options.serve.listen,
            source,
        })?;
    let worker = (options.workers > 0).then(|| {
        let worker_options = WorkerOptions {
            concurrency: options.workers,
            ..options.worker.clone()
        };
        Worker::new(
            repo.database().clone(),
            repo.storage().clone(),
            worker_options,
        )
    });
    let service = Service::with(
        repo,
        options.home.clone(),
        worker.as_ref().map(Worker::waker),
        options.hook_secret.clone(),
        options.apps.clone(),
        options.worker.allow_local_sources,
    );
    Ok(BoundService {
        listener,
        service,
        worker,
    })
}

impl BoundService {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServiceError> {
        self.listener
            .local_addr()
            .map_err(|e| ServiceError::Internal(format!("cannot read the bound address: {e}")))
    }

    /// The service being served.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Serves (and runs local workers) until `shutdown` completes.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServiceError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let workers = self.worker.map(|worker| {
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                worker
                    .run(async move {
                        let _ = stop.wait_for(|stop| *stop).await;
                    })
                    .await
            })
        });
        let router = self.service.router();
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            })
            .await
            .map_err(|e| ServiceError::Internal(format!("the server stopped: {e}")));
        if let Some(workers) = workers {
            let _ = workers.await;
        }
        served
    }
}
