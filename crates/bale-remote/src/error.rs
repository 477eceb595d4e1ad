//! What can be wrong before any host is contacted.

/// A host list, repository or ssh setting bale cannot use.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// `--hosts` named no host.
    #[error("--hosts names no host; give one or more ssh destinations separated by commas, e.g. `--hosts web1,web2`")]
    NoHosts,
    /// One entry of `--hosts` cannot be an ssh destination.
    #[error("`{host}` is not a usable host: {reason}")]
    BadHost {
        /// The entry as given.
        host: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The same host was named twice.
    #[error("host `{host}` is named twice in --hosts; name each machine once")]
    DuplicateHost {
        /// The repeated entry.
        host: String,
    },
    /// The repository URL cannot be reached from the hosts as given.
    #[error("repository `{url}`: {reason}")]
    BadRepo {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A variable that cannot be sent as one `NAME=VALUE` line.
    #[error("variable `{name}` holds a line break, which a deploy on --hosts cannot send; deploy on each machine with --env instead")]
    BadVariable {
        /// The variable's name.
        name: String,
    },
    /// The ssh command setting is empty.
    #[error("the ssh command is empty; set --ssh (or BALE_SSH) to e.g. `ssh -F ~/.ssh/bale_config`, or unset it")]
    EmptySsh,
}
