//! Failure notices: when a build fails, its package's maintainer is told by a
//! JSON webhook and, when SMTP is configured, an e-mail.
//!
//! ```no_run
//! # async fn f(config: bale_notice::NoticeConfig, log: Vec<u8>) {
//! use bale_notice::{log_tail, send, Notice};
//! let notice = Notice {
//!     coordinate: "acme:hello:1.2.0".into(),
//!     build_id: 42,
//!     status: "failed".into(),
//!     reason: "step `main` exited with status 2".into(),
//!     log_tail: log_tail(&log),
//!     link: "http://builder:7070/builds/42".into(),
//!     maintainer: Some("Jane Doe <jane@example.org>".into()),
//!     differences: Vec::new(),
//! };
//! if let Err(e) = send(&config, &notice).await {
//!     eprintln!("{e}"); // each failed channel named; the others were still tried
//! }
//! # }
//! ```
//!
//! The configuration ([`NoticeConfig`]) is meant to be a table of the
//! service's configuration file:
//!
//! ```toml
//! [notice]
//! webhook = "https://chat.example.org/hooks/bale"   # optional: POSTs the JSON below
//!
//! [notice.smtp]                                     # optional: mails the notice
//! host = "smtp.example.org"
//! port = 587                                        # default 587
//! from = "bale <bale@example.org>"
//! to = ["team@example.org"]                         # plus the package's maintainer
//! username = "bale"                                 # optional
//! password = "…"                                    # optional
//! starttls = true                                   # default true; false = plain text
//! ```
//!
//! The webhook receives `{"coordinate", "build_id", "status", "reason",
//! "log_tail": [last 50 lines], "link", "maintainer"?, "differences"?, "text"}`
//! (`text` is a one-line summary for chat webhooks; `differences`, for a
//! build that did not reproduce, names what differs between its two
//! packages, one line each, and the e-mail lists them too). The e-mail's subject is
//! `bale: <coordinate> build <status>`; its body has the reason, the log's
//! last lines and the link. TLS (HTTPS webhooks, STARTTLS) trusts the host's
//! CA certificates.

mod config;
mod error;
mod notice;
mod send;

pub use config::{NoticeConfig, SmtpConfig};
pub use error::NoticeError;
pub use notice::{log_tail, Notice, LOG_TAIL_LINES};
pub use send::{send, Delivered};
