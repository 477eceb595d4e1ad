//! What can go wrong deploying and running an app: each message says what to do.

use std::io;
use std::path::PathBuf;

use bale_store::StoreError;

/// Everything that can go wrong deploying, rolling back, running or removing an app.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The app name cannot be a directory name.
    #[error(
        "`{0}` is not a valid app name: use lower-case letters, digits, `.`, `_` and `-`, \
         starting with a letter or digit"
    )]
    AppName(String),
    /// Another bale process holds the app's lock.
    #[error(
        "app `{app}` is locked by another bale process ({holder}); wait for it to finish, or \
         deploy with --wait to queue behind it"
    )]
    Locked {
        /// The app.
        app: String,
        /// Who holds the lock: its pid and command line, as it wrote them.
        holder: String,
    },
    /// Another bale process is doing what this one must not run beside.
    #[error("{what}")]
    Busy {
        /// What runs, and what to do.
        what: String,
    },
    /// Installing or finding the package failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The installed package's manifest cannot be read.
    #[error(
        "{path}: the installed package's manifest cannot be read:\n{message}\nremove the \
         installed package's directory (it is read-only: `chmod -R u+w` it, then `rm -r` it) and \
         deploy again"
    )]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// Required variables have no value.
    #[error(
        "app `{app}` needs a value for {}: give each with --env NAME=VALUE; nothing was changed",
        .names.join(", ")
    )]
    MissingVariables {
        /// The app.
        app: String,
        /// Each missing variable, with its description when the kit gives one.
        names: Vec<String>,
    },
    /// The app has never been deployed here.
    #[error("app `{0}` is not deployed; deploy it with `bale deploy {0} COORDINATE`")]
    NotDeployed(String),
    /// `--to` names no deployment of the app.
    #[error(
        "app `{app}` has no deployment with id `{id}`; `bale apps --json` lists each app's \
         deployments"
    )]
    UnknownDeployment {
        /// The app.
        app: String,
        /// The id asked for.
        id: String,
    },
    /// There is no earlier deployment to go back to.
    #[error("app `{0}` has no deployment before the current one to roll back to")]
    NothingBefore(String),
    /// The app has no service of that name.
    #[error("app `{app}` has no service `{service}`; its services: {}", list(.known))]
    UnknownService {
        /// The app.
        app: String,
        /// The name asked for.
        service: String,
        /// The services it has.
        known: Vec<String>,
    },
    /// The app's package has no such `[run.commands]` entry.
    #[error("app `{app}` has no command `{command}`; its [run.commands]: {}", list(.known))]
    UnknownCommand {
        /// The app.
        app: String,
        /// The name asked for.
        command: String,
        /// The commands it has.
        known: Vec<String>,
    },
    /// A hook command exited non-zero.
    #[error("the {hook} hook failed: `{command}` {status}; its output:\n{output}")]
    Hook {
        /// The hook's name.
        hook: String,
        /// The command that failed.
        command: String,
        /// How it ended ("exited with status 3").
        status: String,
        /// What the hook printed (the end of it, when long).
        output: String,
    },
    /// A service did not become healthy.
    #[error("service `{service}` is not healthy: {reason}; the end of its log:\n{log}")]
    Unhealthy {
        /// The service.
        service: String,
        /// What the check saw.
        reason: String,
        /// The last lines of the service's log.
        log: String,
    },
    /// The proxy that owns the app's public ports failed to take new routes.
    #[error("the proxy of app `{app}` failed: {reason}")]
    Proxy {
        /// The app.
        app: String,
        /// What went wrong, and what to do.
        reason: String,
    },
    /// The deploy failed and the previous deployment was put back.
    #[error("{cause}\nthe deploy was rolled back: {restored}")]
    RolledBack {
        /// Why the deploy failed.
        cause: Box<DeployError>,
        /// What runs now.
        restored: String,
    },
    /// The package's stack is unknown or not created.
    #[error(transparent)]
    Stack(#[from] bale_stack::StackError),
    /// The runtime layer the package runs on could not be made.
    #[error(
        "cannot make the runtime layer of stack `{stack}` that the package runs on: {message}; \
         build the package on this machine (`bale build`) to make the layer, or run apps on the \
         host with `isolation = \"none\"` in $BALE_HOME/config.toml"
    )]
    Layer {
        /// The stack.
        stack: String,
        /// What went wrong.
        message: String,
    },
    /// The machine's configuration file is malformed.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The app's own user cannot be made or used.
    #[error("cannot run the app as its user {user}: {message}")]
    AppUser {
        /// The user's name.
        user: String,
        /// What went wrong and what to do.
        message: String,
    },
    /// A process could not be started.
    #[error("cannot run {what}")]
    Spawn {
        /// What was being started.
        what: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A file system operation failed.
    #[error("cannot read or write {path}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}

impl DeployError {
    /// Whether bale itself failed (I/O on its apps' state), not the app,
    /// its package or the user's request.
    pub fn is_internal(&self) -> bool {
        match self {
            DeployError::Io { .. } => true,
            DeployError::Store(e) => e.is_internal(),
            DeployError::Stack(e) => e.is_internal(),
            _ => false,
        }
    }

    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        DeployError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<bale_fs::FsError> for DeployError {
    fn from(e: bale_fs::FsError) -> Self {
        DeployError::Io {
            path: e.path,
            source: e.source,
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}
