//! How a service, hook or command of an app is run: its environment, its
//! working directory, and the isolation around it.
//!
//! In the package's stack (the default) every process runs in a sandbox:
//! the stack image with the runtime dependency layer as its root, the
//! package read-only at its `BALE_PREFIX`, the runtime directory writable at
//! `/bale/run`, the host's network, its own PID namespace. bubblewrap, which
//! the sandbox uses, dies with the process that started it, so a sandboxed
//! process is started through a small keeper: the running program itself,
//! re-executed with [`SANDBOX_ARG`], which reads the run from
//! [`SANDBOX_RUN_ENV`], runs it and exits with its status (see
//! [`sandboxed_entry`]). The keeper is what a pid file names.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use bale_coordinate::Coordinate;
use bale_manifest::RunLimits;
use bale_sandbox::{Bind, Limits, RunAs, Sandbox, SandboxError, SandboxSpec};
use serde::{Deserialize, Serialize};

use crate::run_records::{self, ExitRecord, LimitsRecord};
use crate::users::AppUser;
use crate::DeployError;

/// Where an app's processes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// Directly on the host, from the installed package directory
    /// (the machine's `isolation = "none"`).
    #[default]
    None,
    /// In a sandbox over the package's stack (docs/runtime.md, "Isolation").
    Stack,
}

/// The first argument that makes a program started by bale a sandbox keeper.
pub const SANDBOX_ARG: &str = "__bale-sandboxed";
/// The environment variable that carries the keeper's run, as JSON.
pub const SANDBOX_RUN_ENV: &str = bale_home::env::BALE_SANDBOX_RUN;
/// The runtime directory inside the sandbox.
pub const SANDBOX_RUN_DIR: &str = "/bale/run";
/// The exit status of a keeper that could not start its sandbox.
const KEEPER_FAILED: i32 = 125;

/// Everything a process of one deployment runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunContext {
    /// The app.
    pub app: String,
    /// The deployed package.
    pub coordinate: Coordinate,
    /// The installed package's directory.
    pub package_dir: PathBuf,
    /// `[run] workdir`, relative to the package root.
    pub workdir: String,
    /// The app's runtime directory.
    pub run_dir: PathBuf,
    /// The app's variables.
    pub variables: BTreeMap<String, String>,
    /// The sandbox's root layers, top first (unused with [`Isolation::None`]).
    pub layers: Vec<PathBuf>,
    /// Host paths covered by an empty directory inside the sandbox.
    pub hide: Vec<PathBuf>,
    /// Where the sandbox's throw-away writable layers are made.
    pub scratch: Option<PathBuf>,
    /// The ports of the app's kits, for `PORT` and `PORT_<NAME>`.
    pub ports: Ports,
    /// The app's own user; `None` runs as bale's user.
    pub user: Option<AppUser>,
    /// `[run] limits`, applied to each service.
    pub limits: RunLimits,
}

/// The ports of an app's kits as its processes see them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ports {
    /// The main kit's port: `PORT` of hooks and commands.
    pub main: Option<u16>,
    /// `PORT_<NAME>` → port, for every named port of every kit.
    pub named: BTreeMap<String, u16>,
}

/// Which process of an app is started; it decides `PORT` and what else it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role<'a> {
    /// A service: `PORT` is its kit's port, `[run] limits` apply.
    Service {
        /// Its name in `[run.services]`.
        name: &'a str,
        /// Its kit's port.
        port: Option<u16>,
    },
    /// A hook: `PORT` is the main kit's port, `BALE_HOOK` its name.
    Hook(&'a str),
    /// A `[run.commands]` entry: `PORT` is the main kit's port.
    Command,
    /// A kit's health command: `PORT` is the checked service's port.
    Health {
        /// The service's port.
        port: Option<u16>,
    },
}

/// The name of the variable of a kit's named port: `PORT_` and the name
/// upper-cased, `-` and `.` as `_`.
pub fn port_variable(name: &str) -> String {
    let name: String = name
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("PORT_{name}")
}

/// `PATH` after the package's `bin/` when the caller has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// One sandboxed run, as the keeper receives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SandboxRun {
    layers: Vec<PathBuf>,
    /// (host path, sandbox path, writable)
    binds: Vec<(PathBuf, PathBuf, bool)>,
    hide: Vec<PathBuf>,
    env: Vec<(String, String)>,
    workdir: PathBuf,
    command: Vec<String>,
    scratch: Option<PathBuf>,
    /// (uid, gid) to run as.
    run_as: Option<(u32, u32)>,
    /// A service's limits and where its keeper records them and its end.
    service: Option<ServiceRun>,
}

/// What a service's keeper does beyond running the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ServiceRun {
    /// bytes, tasks, thousandths of a CPU
    memory_bytes: Option<u64>,
    tasks: Option<u64>,
    cpu_millis: Option<u64>,
    limits_record: PathBuf,
    exit_record: PathBuf,
}

impl RunContext {
    /// The package's root as its processes see it.
    pub fn prefix(&self, isolation: Isolation) -> PathBuf {
        match isolation {
            Isolation::None => self.package_dir.clone(),
            Isolation::Stack => {
                PathBuf::from(format!("/bale/pkgs/{}", self.coordinate.relative_dir()))
            }
        }
    }

    /// The environment of every service, hook and command, built here and
    /// only here (docs/runtime.md, "The environment of an app"): the app's
    /// variables, then bale's own, then `PORT` for `role`; `extra` (the
    /// versions of an upgrade) comes last and wins. Paths stay `OsString`:
    /// a host path need not be UTF-8.
    pub fn environment(
        &self,
        isolation: Isolation,
        role: Role<'_>,
        extra: &[(String, String)],
    ) -> Vec<(String, OsString)> {
        let prefix = self.prefix(isolation);
        let (run, base_path) = match isolation {
            Isolation::None => (
                self.run_dir.clone(),
                std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
            ),
            Isolation::Stack => (
                PathBuf::from(SANDBOX_RUN_DIR),
                OsString::from(bale_sandbox::DEFAULT_PATH),
            ),
        };
        let mut env: BTreeMap<String, OsString> = self
            .variables
            .iter()
            .map(|(name, value)| (name.clone(), value.into()))
            .collect();
        let mut path = prefix.join("bin").into_os_string();
        path.push(":");
        path.push(base_path);
        env.insert("PATH".into(), path);
        env.insert("LANG".into(), "C.UTF-8".into());
        env.insert("BALE_PREFIX".into(), prefix.into_os_string());
        env.insert("BALE_RUN".into(), run.into_os_string());
        env.insert("BALE_APP".into(), self.app.as_str().into());
        env.insert("BALE_COORDINATE".into(), self.coordinate.to_string().into());
        for (name, port) in &self.ports.named {
            env.insert(name.clone(), port.to_string().into());
        }
        let port = match role {
            Role::Service { port, .. } | Role::Health { port } => port,
            Role::Hook(_) | Role::Command => self.ports.main,
        };
        if let Some(port) = port {
            env.insert("PORT".into(), port.to_string().into());
        }
        if let Role::Hook(name) = role {
            env.insert("BALE_HOOK".into(), name.into());
        }
        env.extend(
            extra
                .iter()
                .map(|(name, value)| (name.clone(), value.into())),
        );
        env.into_iter().collect()
    }

    /// A `/bin/sh -ec SCRIPT` command, with `args` as `$1…`, ready to spawn
    /// as the app's user. In the stack it is a keeper (this program again)
    /// that runs the sandbox; the sandbox's standard input is empty.
    pub fn shell(
        &self,
        isolation: Isolation,
        script: &str,
        args: &[String],
        role: Role<'_>,
        extra: &[(String, String)],
    ) -> Result<Command, DeployError> {
        let env = self.environment(isolation, role, extra);
        match isolation {
            Isolation::None => {
                let mut command = Command::new("/bin/sh");
                command.arg("-ec").arg(script).arg("sh").args(args);
                let workdir = self.package_dir.join(&self.workdir);
                let dir = if workdir.is_dir() {
                    workdir
                } else {
                    self.package_dir.clone()
                };
                command.current_dir(dir);
                command.env_clear().envs(env);
                self.run_as_app_user(&mut command);
                if let Role::Service { name, .. } = role {
                    self.record_limits_off_host(name);
                }
                Ok(command)
            }
            Isolation::Stack => {
                let prefix = self.prefix(isolation);
                let workdir = if self.package_dir.join(&self.workdir).is_dir() {
                    prefix.join(&self.workdir)
                } else {
                    prefix.clone()
                };
                // The keeper gets the run as JSON: inside the sandbox every
                // path is bale's own (`/bale/...`), so a value that is not
                // UTF-8 is one of the app's and is refused by name, not mangled.
                let env = env
                    .into_iter()
                    .map(|(name, value)| match value.into_string() {
                        Ok(value) => Ok((name, value)),
                        Err(_) => Err(DeployError::Spawn {
                            what: "the sandbox keeper".into(),
                            source: std::io::Error::other(format!(
                                "the value of {name} is not UTF-8"
                            )),
                        }),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut command = vec![
                    "/bin/sh".to_owned(),
                    "-ec".to_owned(),
                    script.to_owned(),
                    "sh".to_owned(),
                ];
                command.extend(args.iter().cloned());
                let run = SandboxRun {
                    layers: self.layers.clone(),
                    binds: vec![
                        (self.package_dir.clone(), prefix, false),
                        (self.run_dir.clone(), PathBuf::from(SANDBOX_RUN_DIR), true),
                    ],
                    hide: self.hide.clone(),
                    env,
                    workdir,
                    command,
                    scratch: self.scratch.clone(),
                    run_as: self.user.as_ref().map(|u| (u.uid, u.gid)),
                    service: match role {
                        Role::Service { name, .. } => Some(self.service_run(name)),
                        _ => None,
                    },
                };
                let json = serde_json::to_string(&run).map_err(|e| DeployError::Spawn {
                    what: "the sandbox keeper".into(),
                    source: std::io::Error::other(e),
                })?;
                let program = std::env::current_exe().map_err(|source| DeployError::Spawn {
                    what: "the sandbox keeper (this program's own path is unknown)".into(),
                    source,
                })?;
                let mut keeper = Command::new(program);
                keeper.arg(SANDBOX_ARG).arg(&self.app);
                keeper.env_clear();
                // The keeper finds bwrap on the host's PATH.
                keeper.env(
                    "PATH",
                    std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
                );
                keeper.env(SANDBOX_RUN_ENV, json);
                keeper.current_dir("/");
                Ok(keeper)
            }
        }
    }
}

impl RunContext {
    /// Makes `command` (run directly on the host) start as the app's user;
    /// std drops the supplementary groups with it.
    fn run_as_app_user(&self, command: &mut Command) {
        if let Some(user) = &self.user {
            use std::os::unix::process::CommandExt;
            command.uid(user.uid).gid(user.gid);
        }
    }

    /// On the host (`isolation = "none"`) no cgroup is made: a service's
    /// limits are recorded as not applied.
    fn record_limits_off_host(&self, service: &str) {
        if !self.limits.any() {
            return;
        }
        let record = LimitsRecord {
            applied: false,
            reason: Some(
                "isolation = \"none\" runs services on the host, outside any cgroup of bale's"
                    .into(),
            ),
        };
        let pids = self.run_dir.join("pids");
        let _ = run_records::write(&run_records::limits_path(&pids, service), &record);
    }

    /// A service's limits and record files, for its keeper.
    fn service_run(&self, service: &str) -> ServiceRun {
        let pids = self.run_dir.join("pids");
        ServiceRun {
            memory_bytes: self.limits.memory.as_ref().map(|m| m.bytes()),
            tasks: self.limits.tasks,
            cpu_millis: self.limits.cpu_millis,
            limits_record: run_records::limits_path(&pids, service),
            exit_record: run_records::exit_path(&pids, service),
        }
    }
}

/// The keeper's side of a sandboxed run. A program that deploys apps in their
/// stack calls this first thing in `main`: when the program was started as a
/// keeper (first argument [`SANDBOX_ARG`]) it runs the sandbox, passing its
/// output on, and returns the exit status to exit with; otherwise `None`.
pub fn sandboxed_entry() -> Option<i32> {
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(SANDBOX_ARG)) {
        return None;
    }
    match run_keeper() {
        Ok(status) => Some(status),
        Err(message) => {
            eprintln!("bale: {message}");
            Some(KEEPER_FAILED)
        }
    }
}

/// Runs the sandbox described by [`SANDBOX_RUN_ENV`] and returns its status.
fn run_keeper() -> Result<i32, String> {
    let json = std::env::var(SANDBOX_RUN_ENV)
        .map_err(|_| format!("{SANDBOX_ARG} is started by bale, with {SANDBOX_RUN_ENV} set"))?;
    let run: SandboxRun =
        serde_json::from_str(&json).map_err(|e| format!("{SANDBOX_RUN_ENV}: {e}"))?;
    let sandbox = Sandbox::new().map_err(|e| bale_api::error::with_causes(&e))?;
    let mut spec = SandboxSpec::new(run.layers, run.command);
    spec.binds = run
        .binds
        .into_iter()
        .map(|(src, dst, writable)| Bind { src, dst, writable })
        .collect();
    spec.hide = run.hide;
    spec.network = true;
    spec.env = run.env;
    spec.workdir = run.workdir;
    spec.scratch = run.scratch;
    spec.run_as = run.run_as.map(|(uid, gid)| RunAs { uid, gid });
    let Some(service) = run.service else {
        let outcome = sandbox
            .run(&spec, &mut std::io::stdout(), &mut std::io::stderr())
            .map_err(|e| bale_api::error::with_causes(&e))?;
        return Ok(outcome.status);
    };
    spec.limits = Limits {
        memory_bytes: service.memory_bytes,
        pids: service.tasks,
        cpu_millis: service.cpu_millis,
    };
    // Limits hold where the machine has cgroups; elsewhere the service still
    // runs, and `bale apps` says why its limits do not hold.
    let not_applied = |reason: String| {
        let record = LimitsRecord {
            applied: false,
            reason: Some(reason),
        };
        let _ = run_records::write(&service.limits_record, &record);
    };
    if spec.limits.any() {
        match sandbox.limits_available() {
            Ok(()) => {
                let record = LimitsRecord {
                    applied: true,
                    reason: None,
                };
                let _ = run_records::write(&service.limits_record, &record);
            }
            Err(e) => {
                not_applied(limits_reason(e));
                spec.limits = Limits::default();
            }
        }
    }
    let mut outcome = sandbox.run(&spec, &mut std::io::stdout(), &mut std::io::stderr());
    if let Err(e @ SandboxError::LimitsUnavailable { .. }) = outcome {
        not_applied(limits_reason(e));
        spec.limits = Limits::default();
        outcome = sandbox.run(&spec, &mut std::io::stdout(), &mut std::io::stderr());
    }
    let outcome = outcome.map_err(|e| bale_api::error::with_causes(&e))?;
    let exit = ExitRecord {
        status: outcome.status,
        limit: outcome.limit_hit.map(|hit| {
            match hit {
                bale_sandbox::LimitHit::Memory => "memory",
                bale_sandbox::LimitHit::Pids => "tasks",
            }
            .to_owned()
        }),
        at_ms: bale_fs::now_ms(),
    };
    if let Err(e) = run_records::write(&service.exit_record, &exit) {
        eprintln!("bale: cannot record how the service ended: {e}");
    }
    Ok(outcome.status)
}

/// Why a sandbox could not apply limits, in words for `bale apps`.
fn limits_reason(error: SandboxError) -> String {
    match error {
        SandboxError::LimitsUnavailable { reason } => reason,
        other => other.to_string(),
    }
}

/// The machine's isolation: `isolation = "none"` in `$BALE_HOME/config.toml`
/// runs apps on the host; otherwise (`"stack"`, or no setting) in their stack.
pub fn machine_isolation(home: &bale_home::Home) -> Result<Isolation, DeployError> {
    let path = home.config_path();
    let table = crate::config::read_table(&path)?;
    let bad = |message: String| crate::config::invalid(&path, message);
    match table.get("isolation") {
        None => Ok(Isolation::Stack),
        Some(toml::Value::String(s)) if s == "stack" => Ok(Isolation::Stack),
        Some(toml::Value::String(s)) if s == "none" => Ok(Isolation::None),
        Some(other) => Err(bad(format!(
            "`isolation` is {other}; use \"stack\" or \"none\""
        ))),
    }
}

/// Whether `path` is the host's root, the `host` stack's image.
pub(crate) fn is_host_root(path: &Path) -> bool {
    path == Path::new("/")
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn host_paths_reach_the_environment_byte_for_byte_even_when_not_utf8() {
        let home = Path::new(OsStr::from_bytes(b"/srv/b\xe4le"));
        let ctx = RunContext {
            app: "shop".into(),
            coordinate: "org.example:shop:1.0.0".parse().expect("coordinate"),
            package_dir: home.join("pkgs/shop"),
            workdir: String::new(),
            run_dir: home.join("apps/shop/run"),
            variables: BTreeMap::new(),
            layers: Vec::new(),
            hide: Vec::new(),
            scratch: None,
            ports: Ports::default(),
            user: None,
            limits: RunLimits::default(),
        };
        let env: BTreeMap<String, OsString> = ctx
            .environment(Isolation::None, Role::Command, &[])
            .into_iter()
            .collect();
        assert_eq!(env["BALE_PREFIX"], home.join("pkgs/shop").into_os_string());
        assert_eq!(env["BALE_RUN"], home.join("apps/shop/run").into_os_string());
        assert!(env["PATH"]
            .as_bytes()
            .starts_with(b"/srv/b\xe4le/pkgs/shop/bin:"));
    }
}
