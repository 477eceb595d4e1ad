//! The service's HTTP routes, added to the repository's router.

mod builds;
mod dashboard;
mod hooks;
mod log;
mod stacks;

use std::sync::Arc;

use axum::http::{HeaderMap, Method};
use axum::routing::MethodRouter;
use axum::Router;
use bale_db::tokens::Scope;
use bale_home::Home;
use bale_repo::server::ApiError;
use bale_repo::Repository;
use tokio::sync::Notify;

use crate::metrics::Metrics;
use crate::Apps;

/// The build service over a repository: its routes and shared state.
#[derive(Debug, Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    repo: Repository,
    home: Home,
    metrics: Metrics,
    wake: Option<Arc<Notify>>,
    hook_secret: Option<String>,
    apps: Option<Arc<dyn Apps>>,
    allow_local_sources: bool,
}

impl Service {
    /// The service over `repo`, with stacks and scratch space in `home`.
    pub fn new(repo: Repository, home: Home) -> Service {
        Service::with(repo, home, None, None, None, false)
    }

    /// The service with a waker for local workers (a submit wakes them at
    /// once), the shared secret of signed git push webhooks, the apps the
    /// dashboard lists, and whether sources on this machine (paths,
    /// `file://`) may be submitted.
    pub fn with(
        repo: Repository,
        home: Home,
        wake: Option<Arc<Notify>>,
        hook_secret: Option<String>,
        apps: Option<Arc<dyn Apps>>,
        allow_local_sources: bool,
    ) -> Service {
        Service {
            inner: Arc::new(Inner {
                repo,
                home,
                metrics: Metrics::default(),
                wake,
                hook_secret,
                apps,
                allow_local_sources,
            }),
        }
    }

    /// The repository behind it.
    pub fn repository(&self) -> &Repository {
        &self.inner.repo
    }

    /// Every route: the repository's and the service's, counted for `/metrics`.
    pub fn router(&self) -> Router {
        // One method router per path: axum takes each path once.
        let mut by_path: Vec<(&'static str, MethodRouter<Service>)> = Vec::new();
        for route in routes_of() {
            match by_path.iter_mut().find(|(path, _)| *path == route.path) {
                Some((_, handler)) => *handler = std::mem::take(handler).merge(route.handler),
                None => by_path.push((route.path, route.handler)),
            }
        }
        let mut routes: Router<Service> = Router::new();
        for (path, handler) in by_path {
            routes = routes.route(path, handler);
        }
        let router = self
            .inner
            .repo
            .router()
            .merge(routes.with_state(self.clone()))
            .merge(bale_dashboard::router(Arc::new(self.clone())));
        self.inner
            .repo
            .guard_reads(router)
            // The framework's own errors (a body over its limit) in the API's envelope.
            .layer(axum::middleware::from_fn(bale_repo::server::json_errors))
            .layer(axum::middleware::from_fn_with_state(
                self.inner.metrics.clone(),
                crate::metrics::count,
            ))
    }

    /// Whether paths and `file://` URLs on this machine may be built.
    pub(crate) fn allow_local_sources(&self) -> bool {
        self.inner.allow_local_sources
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    fn db(&self) -> &bale_db::Database {
        self.inner.repo.database()
    }

    /// Whether a build submitted without `check` is checked anyway: `[server]
    /// check_reproducible` in the configuration, read at each submit.
    fn checks_every_build(&self) -> Result<bool, ApiError> {
        crate::server_config(&self.inner.home)
            .map(|config| config.check_reproducible)
            .map_err(|e| {
                ApiError::new(
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                    "config",
                    e.to_string(),
                )
            })
    }

    fn wake_workers(&self) {
        if let Some(wake) = &self.inner.wake {
            wake.notify_one();
        }
    }
}

/// One route of the service.
struct Route {
    method: Method,
    path: &'static str,
    handler: MethodRouter<Service>,
}

fn route(method: Method, path: &'static str, handler: MethodRouter<Service>) -> Route {
    Route {
        method,
        path,
        handler,
    }
}

/// The service's routes; the router and [`route_table`] both come from here.
fn routes_of() -> Vec<Route> {
    use axum::routing::{get, post};
    vec![
        route(Method::POST, "/api/v1/builds", post(builds::submit)),
        route(Method::GET, "/api/v1/builds", get(builds::list)),
        route(Method::GET, "/api/v1/builds/{id}", get(builds::one)),
        route(Method::GET, "/api/v1/builds/{id}/log", get(log::log)),
        route(
            Method::POST,
            "/api/v1/builds/{id}/cancel",
            post(builds::cancel),
        ),
        route(Method::GET, "/api/v1/stacks", get(stacks::list)),
        route(
            Method::POST,
            "/api/v1/stacks/{name}/create",
            post(stacks::create),
        ),
        route(
            Method::POST,
            "/api/v1/stacks/{name}/start",
            post(stacks::start),
        ),
        route(
            Method::POST,
            "/api/v1/stacks/{name}/stop",
            post(stacks::stop),
        ),
        route(
            Method::POST,
            "/api/v1/stacks/{name}/sanitize",
            post(stacks::sanitize),
        ),
        route(Method::POST, "/api/v1/hooks/git", post(hooks::git)),
        route(
            Method::GET,
            "/api/v1/openapi.json",
            get(crate::openapi::serve),
        ),
        route(Method::GET, "/metrics", get(crate::metrics::serve)),
    ]
}

/// `(METHOD, path)` of every route the service adds, as registered.
pub fn route_table() -> Vec<(String, String)> {
    routes_of()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect()
}

/// Checks the bearer token of a write call; returns who asked, for the record.
async fn authorize(
    service: &Service,
    headers: &HeaderMap,
    needed: Scope,
) -> Result<String, ApiError> {
    bale_repo::server::auth::authorize(service.db(), headers, needed).await
}
