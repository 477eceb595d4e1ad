//! Deploying one package to several machines over SSH: the host list, the
//! `ssh` command that runs `bale install` and `bale deploy` on each host
//! (forwarding a repository on the local loopback through the connection),
//! and the parallel or rolling order with each host's result.

mod error;
mod hosts;
mod plan;
mod rollout;
mod shell;

pub use error::RemoteError;
pub use hosts::{parse_hosts, Host};
pub use plan::{Forward, RemoteBale, RemoteDeploy, Ssh};
pub use rollout::{roll_out, HostResult, Order, Outcome};
