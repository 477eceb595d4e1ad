//! What a service's keeper records for `bale apps`, beside its pid file:
//! whether its `[run] limits` were applied (`run/pids/NAME.limits.json`,
//! written as it starts) and how it last ended (`run/pids/NAME.exit.json`,
//! kept across restarts so the reason of a crash stays visible).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Whether a service's limits hold, as its latest start found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsRecord {
    /// Whether the limits are enforced by a cgroup.
    pub applied: bool,
    /// Why not, when they are not.
    pub reason: Option<String>,
}

/// How a service's process last ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// Its exit code; 128 + N when signal N ended it.
    pub status: i32,
    /// `memory` when the memory limit killed it, `tasks` when the task
    /// limit refused it a process.
    pub limit: Option<String>,
    /// When it ended (ms since the epoch).
    pub at_ms: u64,
}

impl ExitRecord {
    /// The end in words: "killed by the memory limit (OOM)", "exited with status 1".
    pub fn describe(&self) -> String {
        match self.limit.as_deref() {
            Some("memory") => "killed by the memory limit (OOM)".to_owned(),
            Some("tasks") => format!(
                "ran into the task limit, exited with status {}",
                self.status
            ),
            _ if self.status > 128 => format!("killed by signal {}", self.status - 128),
            _ => format!("exited with status {}", self.status),
        }
    }
}

/// The record files of service `service` under the pid directory `pids`.
pub(crate) fn limits_path(pids: &Path, service: &str) -> PathBuf {
    pids.join(format!("{service}.limits.json"))
}

/// See [`limits_path`].
pub(crate) fn exit_path(pids: &Path, service: &str) -> PathBuf {
    pids.join(format!("{service}.exit.json"))
}

/// Writes a record whole; a record that cannot be written costs only `bale apps` its detail.
pub(crate) fn write<T: Serialize>(path: &Path, record: &T) -> Result<(), String> {
    let json = serde_json::to_vec(record).map_err(|e| e.to_string())?;
    bale_fs::write_atomic(path, &json).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a record, if there is a readable one.
pub(crate) fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}
