//! The typed form of `bale.toml`, one type per section of docs/manifest.md.
//!
//! These types hold data only; reading them from text (with diagnostics)
//! lives in `parse`, checks in `validate`, and accessors in `manifest`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::units::{ByteSize, HumanDuration};

/// The stack used when `[stack] name` is not given.
pub const DEFAULT_STACK: &str = "debian-bookworm";

/// The names a `[hooks]` table may hold, in the order they run in a lifetime.
pub const HOOK_NAMES: &[&str] = &[
    "post-install",
    "pre-upgrade",
    "post-upgrade",
    "deploy",
    "post-deploy",
    "pre-deinstall",
    "post-deinstall",
];

/// A whole `bale.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// `[package]`: identity and description.
    pub package: Package,
    /// `[stack]`: base system image and kind.
    pub stack: Stack,
    /// `[dependencies]`: Debian packages.
    pub dependencies: Dependencies,
    /// `[source]`: where the source comes from; `None` means the directory holding bale.toml.
    pub source: Option<Source>,
    /// `[build]`: the build actions and their limits.
    pub build: Build,
    /// `[test]`: commands run against the built package.
    pub test: Test,
    /// `[hooks]`: commands run at install and deploy time.
    pub hooks: Hooks,
    /// `[run]`: services and one-off commands.
    pub run: Run,
    /// `[kits.NAME]`: what each service needs from whoever deploys it.
    pub kits: BTreeMap<String, Kit>,
}

/// `[package]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Dotted group, like a Maven groupId.
    pub group: String,
    /// Package name: `[a-z0-9][a-z0-9._-]*`.
    pub name: String,
    /// The version in effect (from the file, or from the git branch when that supplied one).
    pub version: String,
    /// One-line description.
    pub description: Option<String>,
    /// SPDX license expression.
    pub license: Option<String>,
    /// Who is told when a build fails.
    pub maintainer: Option<String>,
    /// Project home page.
    pub homepage: Option<String>,
}

/// `[stack]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    /// Base system image; `host` is the host's own root file system.
    pub name: String,
    /// Interpreter / tool kind supplying runtime packages and default actions.
    pub kind: Option<String>,
}

/// `[dependencies]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependencies {
    /// Debian packages present during the build only.
    pub build: Vec<String>,
    /// Debian packages present wherever the package runs.
    pub runtime: Vec<String>,
}

/// `[source]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// A git URL or a local path to a git repository.
    pub git: String,
    /// Branch, tag or commit.
    #[serde(rename = "ref")]
    pub reference: Option<String>,
}

/// `[build]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    /// Whether actions may use the network (default false).
    pub network: bool,
    /// Extra environment for every action.
    pub env: BTreeMap<String, String>,
    /// The app's own preparation; `None` means the kind's defaults.
    pub before: Option<Vec<String>>,
    /// Main actions; `None` means the kind's defaults.
    pub main: Option<Vec<String>>,
    /// Actions after `main`; `None` means the kind's defaults.
    pub after: Option<Vec<String>>,
    /// Clean-up actions; `None` means the kind's defaults.
    pub finalize: Option<Vec<String>>,
    /// Globs relative to the source tree, copied into the package's `app/`.
    pub destinations: Vec<String>,
    /// Directories kept between builds of this package.
    pub cache: Vec<String>,
    /// Limit on the whole build; `None` means one hour.
    pub timeout: Option<HumanDuration>,
    /// Memory limit, where the machine allows limits.
    pub memory: Option<ByteSize>,
}

/// `[test]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Test {
    /// Commands run in the package root in a fresh environment.
    pub commands: Vec<String>,
}

/// `[hooks]`: each list runs at one point of an app's lifetime.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Hooks {
    /// First install of this app.
    pub post_install: Vec<String>,
    /// Old version still current and running.
    pub pre_upgrade: Vec<String>,
    /// New version current, not yet started.
    pub post_upgrade: Vec<String>,
    /// Every deploy, after the switch, before start.
    pub deploy: Vec<String>,
    /// Every deploy, after the services started and are healthy.
    pub post_deploy: Vec<String>,
    /// Before the app is removed.
    pub pre_deinstall: Vec<String>,
    /// After the app is removed.
    pub post_deinstall: Vec<String>,
}

/// `[run]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Working directory relative to the package root; `None` means `app`.
    pub workdir: Option<String>,
    /// `limits`: per-service resource limits, where the machine has cgroups.
    pub limits: RunLimits,
    /// Long-lived processes: name → command.
    pub services: BTreeMap<String, String>,
    /// One-off commands: name → command.
    pub commands: BTreeMap<String, String>,
}

/// `[run] limits = { memory = "512M", cpu = "1.5", tasks = 256 }`: each
/// service's own limits (docs/runtime.md, "Limits").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLimits {
    /// Most memory a service's process tree may use.
    pub memory: Option<ByteSize>,
    /// CPU share in thousandths of one CPU (`"1.5"` is 1500).
    pub cpu_millis: Option<u64>,
    /// Most processes and threads a service's tree may hold.
    pub tasks: Option<u64>,
}

impl RunLimits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.cpu_millis.is_some() || self.tasks.is_some()
    }

    /// The CPU share as written in the manifest (`"1.5"`).
    pub fn cpu_text(&self) -> Option<String> {
        self.cpu_millis.map(|m| {
            let (whole, frac) = (m / 1000, m % 1000);
            if frac == 0 {
                whole.to_string()
            } else {
                format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0'))
            }
        })
    }

    /// Reads a CPU share: a positive decimal number of CPUs, at most three decimals.
    pub fn parse_cpu(text: &str) -> Result<u64, String> {
        let (whole, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
        if whole.is_empty() && frac.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 3
        {
            return Err("a CPU share is a number of CPUs with at most three decimals".into());
        }
        let whole: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| "too many CPUs".to_string())?
        };
        let frac: u64 = format!("{frac:0<3}").parse().unwrap_or(0);
        let millis = whole
            .checked_mul(1000)
            .and_then(|w| w.checked_add(frac))
            .ok_or("too many CPUs")?;
        if millis == 0 {
            return Err("a CPU share must be more than 0".into());
        }
        Ok(millis)
    }
}

/// `[kits.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kit {
    /// The kit shown first; at most one kit has it.
    pub main: bool,
    /// Ports the service listens on; the first is `$PORT`.
    pub ports: Vec<Port>,
    /// How to tell the service is healthy.
    pub health: Option<Health>,
    /// Environment the deployer provides.
    pub variables: BTreeMap<String, Variable>,
    /// Services the kit covers; `None` means the service with the kit's name.
    pub services: Option<Vec<String>>,
    /// How a deploy replaces the kit's services (docs/runtime.md, "Zero-downtime deploys").
    #[serde(default)]
    pub switch: Switch,
}

/// `switch`: how a deploy or rollback replaces a kit's running services.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Switch {
    /// The new version starts beside the old one, which stops once the new one is healthy
    /// and its open connections have finished.
    #[default]
    Overlap,
    /// The old version stops before the new one starts: for services that cannot run
    /// twice at once (a single-writer database file).
    StopFirst,
}

impl Switch {
    /// The value as `bale.toml` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Switch::Overlap => "overlap",
            Switch::StopFirst => "stop-first",
        }
    }
}

/// One entry of `ports`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Port {
    /// Port name, unique in its kit.
    pub name: String,
    /// TCP port number.
    pub port: u16,
}

/// `health = { http = "..." | command = "...", timeout = "30s" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// What is checked.
    #[serde(flatten)]
    pub check: HealthCheck,
    /// How long the service may take to become healthy; `None` means 30 seconds.
    pub timeout: Option<HumanDuration>,
}

/// The one check a health entry holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheck {
    /// An HTTP GET of this path on the kit's first port must answer 2xx.
    Http(String),
    /// This shell command must exit 0.
    Command(String),
}

/// One entry of `[kits.NAME.variables]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    /// How bale provides the value itself.
    pub provision: Option<Provision>,
    /// Whether the deployer must give a value.
    pub required: bool,
    /// Value used when the deployer gives none.
    pub default: Option<String>,
    /// What the variable is for.
    pub description: Option<String>,
}

/// Values bale can provision for a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provision {
    /// A random secret generated once at first install, then kept.
    Secret,
}

impl Hooks {
    /// The commands of the hook called `name` (one of [`HOOK_NAMES`]).
    pub fn get(&self, name: &str) -> Option<&[String]> {
        Some(match name {
            "post-install" => &self.post_install,
            "pre-upgrade" => &self.pre_upgrade,
            "post-upgrade" => &self.post_upgrade,
            "deploy" => &self.deploy,
            "post-deploy" => &self.post_deploy,
            "pre-deinstall" => &self.pre_deinstall,
            "post-deinstall" => &self.post_deinstall,
            _ => return None,
        })
    }

    /// The list for hook `name`, to fill while reading.
    pub(crate) fn slot(&mut self, name: &str) -> Option<&mut Vec<String>> {
        Some(match name {
            "post-install" => &mut self.post_install,
            "pre-upgrade" => &mut self.pre_upgrade,
            "post-upgrade" => &mut self.post_upgrade,
            "deploy" => &mut self.deploy,
            "post-deploy" => &mut self.post_deploy,
            "pre-deinstall" => &mut self.pre_deinstall,
            "post-deinstall" => &mut self.post_deinstall,
            _ => return None,
        })
    }
}
