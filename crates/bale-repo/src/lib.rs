//! The package repository: a tree of packages laid out by coordinate, kept
//! in local or S3-compatible storage, served over HTTP by `bale serve` (with
//! publishing and `/api/v1`), and the client that publishes and fetches.

pub mod client;
mod error;
pub mod paths;
pub mod server;
pub mod storage;

pub use client::{fetch, publish, FetchOptions, Fetched, Progress, PublishOptions, PublishStatus, Published};
pub use error::RepoError;
pub use server::{bind, serve, BoundServer, Repository, ServeOptions};
pub use storage::Storage;
