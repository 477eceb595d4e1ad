//! Why a notice did not arrive.

/// A channel that failed, or the notice as a whole.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    /// The webhook could not be reached or did not answer 2xx.
    #[error("the notice webhook {url} failed: {reason}; check the URL in the [notice] configuration and that the receiver is up")]
    Webhook {
        /// The webhook URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// An e-mail address (from, to, or the package's maintainer) does not parse.
    #[error("`{address}` is not an e-mail address ({reason}); write it as `name@example.org` or `Name <name@example.org>`")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The SMTP server could not be reached or refused the mail.
    #[error("mailing the notice through {host}:{port} failed: {reason}; check [notice.smtp] (host, port, starttls, login)")]
    Email {
        /// The SMTP host.
        host: String,
        /// The SMTP port.
        port: u16,
        /// What went wrong.
        reason: String,
    },
    /// Neither the configuration nor the package names anyone to mail.
    #[error("the notice e-mail has no recipient; set `to` in [notice.smtp] or `maintainer` in the package's bale.toml")]
    NoRecipient,
    /// At least one channel failed; `delivered` says which others worked.
    #[error("the notice was not delivered everywhere: {}", failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Undelivered {
        /// The channels that did deliver.
        delivered: crate::Delivered,
        /// One error for each channel that failed.
        failures: Vec<NoticeError>,
    },
}
