//! Isolated execution for builds: a fresh overlay root, namespaces, limits.
//!
//! Every run gets a root assembled from read-only lower layers (a stack
//! image, a dependency layer) and a fresh writable upper layer that is
//! thrown away afterwards, so nothing one build writes outside its binds is
//! seen by the next. The run has its own mount, PID, IPC and UTS namespaces,
//! and its own network namespace (loopback only) unless the network is on.
//! The environment is cleared and set explicitly. A timeout kills the whole
//! process tree; memory and process limits use cgroups where delegated.
//!
//! # How
//!
//! bale mounts the overlay itself and hands the merged root to bubblewrap
//! (`bwrap --bind <merged> / …`). bubblewrap 0.8 has no `--overlay`, but it
//! already does the rest well: PID 1 that reaps, `/proc`, a minimal `/dev`,
//! loopback in a new network namespace, `--die-with-parent`, `--new-session`.
//! Re-implementing those in a re-exec'd helper would be more code for the
//! same result, and a bwrap subprocess keeps the calling process (often
//! multi-threaded: tokio, tests) out of `unshare`, which needs one thread.
//!
//! The overlay is mounted between fork and exec of bwrap, in a private mount
//! namespace, so it never appears in the host's mount table and disappears
//! when the run's last process exits, even if bale is killed. As root the
//! discarded upper layer sits on a tmpfs mounted in that same namespace, so
//! a run makes and removes nothing on the host's disk. As root that is all; as an ordinary user the same child first enters a new user
//! namespace mapping the user to root (overlayfs allows this on kernels
//! ≥ 5.11), and bwrap runs inside it with that namespace's capabilities.
//!
//! One case cannot be an overlay: an ordinary user over the host's `/`
//! (the `host` stack). The kernel refuses to use `/` as a lower layer inside
//! a user namespace because its submounts are locked, so the host's root is
//! bound read-only instead (top-level entry by entry, so mount points can be
//! made). Writes outside the binds and `/tmp` then fail rather than vanish.
//! Likewise an ordinary user cannot write files owned by root in any lower
//! layer: only the user's own uid is mapped.
//!
//! Killing: bwrap reports the PID of the namespace's first process on an
//! info pipe; bale holds a pidfd to it and kills it on timeout. When the
//! first process of a PID namespace dies the kernel kills all the others and
//! it is reaped only after they are gone, so waiting on that pidfd means no
//! process is left.
//!
//! Limits: the sandbox's first process joins a fresh child cgroup (v2, or
//! the v1 `pids` / `memory` hierarchies) before it forks anything. Where the
//! machine delegates no cgroup, asking for limits is an error that says why
//! ([`SandboxError::LimitsUnavailable`]); nothing runs unlimited by surprise.

mod cgroup;
pub mod host;
mod root;
mod run;
mod spec;

use std::path::PathBuf;

pub use run::Sandbox;
pub use spec::{Bind, Limits, RunAs, SandboxSpec, Upper, DEFAULT_PATH};

/// Which limit stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitHit {
    /// The memory limit: the kernel killed a process of the tree.
    Memory,
    /// The process limit: a fork was refused.
    Pids,
}

impl std::fmt::Display for LimitHit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LimitHit::Memory => "the memory limit",
            LimitHit::Pids => "the process limit",
        })
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The command's exit code; 128 + N when a signal N ended it.
    pub status: i32,
    /// Whether the timeout passed and the tree was killed.
    pub timed_out: bool,
    /// A limit the run ran into, if any.
    pub limit_hit: Option<LimitHit>,
}

impl Outcome {
    /// Whether the command exited 0 within its time.
    pub fn success(&self) -> bool {
        self.status == 0 && !self.timed_out
    }
}

/// Why a sandboxed run could not be started or watched.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// bubblewrap is not installed.
    #[error(
        "bubblewrap (`bwrap`) was not found on PATH: install it (`apt-get install bubblewrap`)"
    )]
    BwrapMissing,
    /// The spec has no command.
    #[error("nothing to run: the sandbox command is empty")]
    EmptyCommand,
    /// The spec has no root layer.
    #[error("the sandbox has no root: give at least one lower layer (a stack image, or `/` for the host stack)")]
    NoLayers,
    /// A lower layer is not an existing absolute directory.
    #[error("layer {path} is not an existing absolute directory: create the stack first (`bale stack create`)")]
    LayerMissing {
        /// The layer.
        path: PathBuf,
    },
    /// A bind's host path does not exist.
    #[error("cannot bind {path} into the sandbox: it does not exist")]
    BindMissing {
        /// The host path.
        path: PathBuf,
    },
    /// A path cannot be used as given.
    #[error("cannot use path {path}: {reason}")]
    BadPath {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Limits were asked for and the machine allows none.
    #[error("this machine allows no resource limits for bale: {reason}; run as root, delegate a cgroup to this user, or drop the memory/pids limits")]
    LimitsUnavailable {
        /// What was found.
        reason: String,
    },
    /// A kept upper layer was asked for over the host's root as an ordinary user.
    #[error("an ordinary user's sandbox over the host's root is read-only and cannot keep a layer: use a stack image or run as root")]
    UpperUnavailable,
    /// The per-run directories could not be made.
    #[error("cannot prepare the sandbox's directories at {path}")]
    Scratch {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// bwrap could not be started, or the namespace/overlay setup failed.
    #[error("cannot start the sandbox ({step}); as an ordinary user this needs user namespaces (sysctl user.max_user_namespaces > 0) and overlayfs on kernel ≥ 5.11, else run as root")]
    Spawn {
        /// What was being done.
        step: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// Waiting for the sandbox failed.
    #[error("lost track of the sandbox's process")]
    Wait {
        /// The cause.
        source: std::io::Error,
    },
    /// The output could not be passed on.
    #[error("cannot pass on the sandbox's output")]
    Output {
        /// The cause.
        source: std::io::Error,
    },
}
