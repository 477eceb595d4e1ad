//! What a sandboxed run looks like: its root, mounts, environment and limits.

use std::path::PathBuf;
use std::time::Duration;

/// The default `PATH` inside a sandbox, Debian's root `PATH`.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A directory or file of the host made visible inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// The path on the host.
    pub src: PathBuf,
    /// The absolute path inside the sandbox.
    pub dst: PathBuf,
    /// Whether the sandbox may write to it.
    pub writable: bool,
}

impl Bind {
    /// A writable bind of `src` at `dst`.
    pub fn writable(src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> Self {
        Self {
            src: src.into(),
            dst: dst.into(),
            writable: true,
        }
    }

    /// A read-only bind of `src` at `dst`.
    pub fn read_only(src: impl Into<PathBuf>, dst: impl Into<PathBuf>) -> Self {
        Self {
            src: src.into(),
            dst: dst.into(),
            writable: false,
        }
    }
}

/// Resource limits, enforced with cgroups where the machine allows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Most memory the whole process tree may use, in bytes.
    pub memory_bytes: Option<u64>,
    /// Most processes and threads the tree may hold at once.
    pub pids: Option<u64>,
    /// CPU time the tree may use, in thousandths of one CPU.
    pub cpu_millis: Option<u64>,
}

impl Limits {
    /// Whether any limit is asked for.
    pub fn any(&self) -> bool {
        self.memory_bytes.is_some() || self.pids.is_some() || self.cpu_millis.is_some()
    }
}

/// The unprivileged user a root sandbox runs its command as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    /// The user id.
    pub uid: u32,
    /// The group id; supplementary groups are dropped.
    pub gid: u32,
}

/// What happens to the writable layer of the root after the run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Upper {
    /// A fresh layer, deleted after the run: nothing written outside the
    /// binds survives.
    #[default]
    Discard,
    /// The layer is written at this directory and kept, so the run's changes
    /// to the root become a layer of their own (a dependency layer). The
    /// directory's parent must be on a file system that overlayfs accepts as
    /// an upper layer, and must not lie inside one of the lower layers.
    Keep(PathBuf),
}

/// Everything that decides one sandboxed run.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// Read-only layers of the root, top first. A single `/` is the host's
    /// root file system (the `host` stack).
    pub lower_layers: Vec<PathBuf>,
    /// What happens to the root's writable layer.
    pub upper: Upper,
    /// Host paths made visible inside.
    pub binds: Vec<Bind>,
    /// Sandbox paths covered by an empty tmpfs (e.g. `$BALE_HOME` when the
    /// root is the host's, so signing keys stay out of sight).
    pub hide: Vec<PathBuf>,
    /// Whether the sandbox shares the host's network; otherwise it has only
    /// its own loopback device.
    pub network: bool,
    /// The host name inside.
    pub hostname: String,
    /// The file mode creation mask inside; `None` keeps the caller's.
    pub umask: Option<u32>,
    /// Environment variables inside, applied over the defaults (`PATH`,
    /// `HOME=/root`, `LANG=C.UTF-8`, and with the network the CA, proxy and registry
    /// variables). Nothing else of the caller's environment passes.
    pub env: Vec<(String, String)>,
    /// The working directory inside.
    pub workdir: PathBuf,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Wall-clock limit for the whole run; the whole process tree is killed
    /// when it passes.
    pub timeout: Option<Duration>,
    /// Memory and process limits.
    pub limits: Limits,
    /// Run the command as this user rather than as the caller (only when
    /// the caller is root): the root and the mounts are made as root, then
    /// the sandbox's first process gives up root before bubblewrap starts.
    pub run_as: Option<RunAs>,
    /// Where a discarded writable layer is created; `None` = as root, a
    /// tmpfs of the run's own (what the run writes outside its binds takes
    /// memory until it ends), else the system's temporary directory.
    pub scratch: Option<PathBuf>,
    /// Where the host's CA bundle appears when the network is on, the CA
    /// variables pointing at it; default [`crate::host::SANDBOX_CA_BUNDLE`].
    /// A run that installs Debian's `ca-certificates` (which replaces that
    /// file) puts the bundle aside instead, e.g. under `/tmp`.
    pub ca_bundle_path: PathBuf,
}

impl SandboxSpec {
    /// A spec that runs `command` over `lower_layers` with the defaults:
    /// no network, no binds, no limits, no timeout, working directory `/`.
    pub fn new(lower_layers: Vec<PathBuf>, command: Vec<String>) -> Self {
        Self {
            lower_layers,
            upper: Upper::Discard,
            binds: Vec::new(),
            hide: Vec::new(),
            network: false,
            hostname: "bale".to_string(),
            umask: None,
            env: Vec::new(),
            workdir: PathBuf::from("/"),
            command,
            timeout: None,
            limits: Limits::default(),
            run_as: None,
            scratch: None,
            ca_bundle_path: PathBuf::from(crate::host::SANDBOX_CA_BUNDLE),
        }
    }

    /// A spec over the host's root file system, read-only (the `host` stack).
    pub fn host(command: Vec<String>) -> Self {
        Self::new(vec![PathBuf::from("/")], command)
    }

    /// Whether the root is the host's own root file system.
    pub fn is_host_root(&self) -> bool {
        self.lower_layers.len() == 1 && self.lower_layers[0] == std::path::Path::new("/")
    }
}
