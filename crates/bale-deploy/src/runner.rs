//! How a service, hook or command of an app is run: its environment, its
//! working directory, and the isolation around it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use bale_coordinate::Coordinate;

/// Where an app's processes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// Directly on the host, from the installed package directory
    /// (the machine's `isolation = "none"`).
    #[default]
    None,
}

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
}

/// `PATH` after the package's `bin/` when the caller has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

impl RunContext {
    /// The environment of every process: the variables, then bale's own.
    /// `extra` (e.g. `PORT`, the versions of an upgrade) comes last and wins.
    pub fn environment(&self, isolation: Isolation, extra: &[(String, String)]) -> Vec<(String, String)> {
        let (prefix, run) = match isolation {
            Isolation::None => (self.package_dir.clone(), self.run_dir.clone()),
        };
        let host_path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned());
        let mut env: BTreeMap<String, String> = self.variables.clone();
        env.insert("PATH".into(), format!("{}:{host_path}", prefix.join("bin").display()));
        env.insert("LANG".into(), "C.UTF-8".into());
        env.insert("BALE_PREFIX".into(), prefix.display().to_string());
        env.insert("BALE_RUN".into(), run.display().to_string());
        env.insert("BALE_APP".into(), self.app.clone());
        env.insert("BALE_COORDINATE".into(), self.coordinate.to_string());
        env.extend(extra.iter().cloned());
        env.into_iter().collect()
    }

    /// A `/bin/sh -ec SCRIPT` command, with `args` as `$1…`, ready to spawn.
    pub fn shell(
        &self,
        isolation: Isolation,
        script: &str,
        args: &[String],
        extra: &[(String, String)],
    ) -> Command {
        match isolation {
            Isolation::None => {
                let mut command = Command::new("/bin/sh");
                command.arg("-ec").arg(script).arg("sh").args(args);
                let workdir = self.package_dir.join(&self.workdir);
                let dir = if workdir.is_dir() { workdir } else { self.package_dir.clone() };
                command.current_dir(dir);
                command.env_clear().envs(self.environment(isolation, extra));
                command
            }
        }
    }
}
