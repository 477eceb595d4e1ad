//! The build service: `bale serve` as a team's builder and `bale worker`
//! processes that only build.
//!
//! - **Workers** ([`Worker`]) claim queued builds from the database (bale-db's
//!   queue), renew a lease while they build, run each build in a `bale build`
//!   child process that leads its own process group (cancel kills the whole
//!   tree; a worker killed with SIGKILL takes its builds with it, and their
//!   leases run out so another worker retries them), sign the package outside
//!   the sandbox with the service's key, publish it to the repository's
//!   storage and database, and store the build's log in the object store.
//! - **Reproducibility checks** (`check` on a submit, or `[server]
//!   check_reproducible = true`): the first build's package is kept in the
//!   object store and the build queued again; its second build, in a fresh
//!   environment and on another worker when one is live, is compared byte
//!   for byte, and only a package that reproduced is published; one that did
//!   not ends `not-reproducible`, naming what differs.
//! - **The API** ([`Service::router`]) adds `/api/v1/builds…`, `/api/v1/stacks…`,
//!   `/api/v1/hooks/git`, `/api/v1/openapi.json` and `/metrics` to the
//!   repository's own routes; errors are `{"error": {"code", "message"}}`.
//! - **A private server** (`[server] private = true` in `$BALE_HOME/config.toml`,
//!   [`server_config`]) answers reads only to a bearer token of any scope.
//! - **Failure notices** go through bale-notice (webhook, SMTP) as the
//!   `[notice]` table of `$BALE_HOME/config.toml` says ([`notice_config`]).
//! - **The dashboard's apps** come from the caller through [`Apps`]
//!   (`bale serve` lists them with bale-app): the service never links the
//!   deployer, the builder or the sandbox.
//! - **The client** ([`client::ServiceClient`]) is what `bale submit`,
//!   `bale builds`, `bale cancel` and `bale logs --build` use.

mod api;
mod apps;
pub mod client;
mod config;
mod error;
mod metrics;
mod notify;
pub mod openapi;
mod serve;
pub mod worker;

pub use api::{route_table, Service};
pub use apps::Apps;
pub use bale_dashboard::AppRow;
pub use config::{server_config, ServerConfig};
pub use error::ServiceError;
pub use notify::notice_config;
pub use serve::{bind, BoundService, ServiceOptions};
pub use worker::{Worker, WorkerOptions};
