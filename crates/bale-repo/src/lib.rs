//! The package repository: a tree of packages laid out by coordinate, kept
//! in local or S3-compatible storage, served over HTTP by `bale serve` (with
//! publishing and `/api/v1`), and the client that publishes and fetches.
//!
//! # The tree
//!
//! `org.example:hello:2.10` is `/org/example/hello/2.10/hello-2.10.bale`,
//! with `hello-2.10.bale.minisig` and `hello-2.10.json` (its index.json)
//! beside it. GET and HEAD answer with ETag, Last-Modified and single-range
//! `Range` support; any static web server over the same directory is a
//! read-only mirror that [`fetch`] works with.
//!
//! # Publishing
//!
//! `PUT` of the archive's tree path with `Authorization: Bearer <token>`
//! (publish or admin scope) and the `.minisig` file, base64-encoded, in the
//! [`server::SIGNATURE_HEADER`] header. Answers: 201 published, 200 the same
//! bytes were already there, 409 other bytes hold the coordinate (both
//! digests in the message and in `error.details`), 400 for an invalid
//! archive, a coordinate that differs from the path or a signature that does
//! not verify, 401/403 for the token, 403 for an untrusted or missing
//! signature, 413 past the size limit. A `PUT` of the `.minisig` path adds a
//! signature to a package published unsigned.

/// The most bytes an SBOM or provenance file may have, uploaded or fetched:
/// an SBOM lists every file of a package, a few hundred bytes each.
pub const MAX_ATTESTATION_BYTES: usize = 64 << 20;

pub mod catalog;
pub mod client;
mod error;
mod inline_cache;
mod local_write;
pub mod paths;
pub mod server;
pub mod storage;
mod url_fetch;

pub use client::{
    fetch, publish, FetchOptions, Fetched, Progress, PublishOptions, PublishStatus, Published,
};
pub use error::RepoError;
pub use server::{bind, serve, BoundServer, Repository, ServeOptions};
pub use storage::Storage;
pub use url_fetch::{fetch_url, shown_url, FetchedUrl, MAX_PACKAGE_BYTES};
