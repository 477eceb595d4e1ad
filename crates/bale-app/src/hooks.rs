//! Running a `[hooks]` entry: each command by `/bin/sh -ec`, in order,
//! stopping at the first failure. A hook's output goes to
//! `run/logs/hooks/<hook>.log` and, when it fails, into the error.

use std::fs::{self, File};
use std::process::Stdio;

use bale_manifest::Manifest;

use crate::deployment::AppDirs;
use crate::runner::{Isolation, Role, RunContext};
use crate::DeployError;

/// How much of a failed hook's output the error shows.
const OUTPUT_TAIL_BYTES: usize = 8 * 1024;

/// Runs hook `name` like [`run_hook`], telling `progress` first when it has commands.
pub(crate) fn run_hook_step(
    isolation: Isolation,
    ctx: &RunContext,
    app: &AppDirs,
    manifest: &Manifest,
    name: &str,
    extra: &[(String, String)],
    progress: crate::Progress<'_>,
) -> Result<(), DeployError> {
    if manifest.hooks.get(name).is_some_and(|c| !c.is_empty()) {
        progress("Running", &format!("the {name} hook"));
    }
    run_hook(isolation, ctx, app, manifest, name, extra)
}

/// Runs hook `name` of `manifest` (nothing when it has no commands).
/// `extra` adds variables such as `BALE_OLD_VERSION`.
pub fn run_hook(
    isolation: Isolation,
    ctx: &RunContext,
    app: &AppDirs,
    manifest: &Manifest,
    name: &str,
    extra: &[(String, String)],
) -> Result<(), DeployError> {
    let commands = manifest.hooks.get(name).unwrap_or_default();
    if commands.is_empty() {
        return Ok(());
    }
    let dir = app.logs_dir().join("hooks");
    fs::create_dir_all(&dir).map_err(|e| DeployError::io(&dir, e))?;
    let log = dir.join(format!("{name}.log"));
    let out = File::create(&log).map_err(|e| DeployError::io(&log, e))?;
    for command in commands {
        let stdout = out.try_clone().map_err(|e| DeployError::io(&log, e))?;
        let stderr = out.try_clone().map_err(|e| DeployError::io(&log, e))?;
        let status = ctx
            .shell(isolation, command, &[], Role::Hook(name), extra)?
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .status()
            .map_err(|source| DeployError::Spawn {
                what: format!("the {name} hook"),
                source,
            })?;
        if !status.success() {
            let output = fs::read(&log).unwrap_or_default();
            let start = output.len().saturating_sub(OUTPUT_TAIL_BYTES);
            return Err(DeployError::Hook {
                hook: name.to_owned(),
                command: command.clone(),
                status: status.to_string(),
                output: String::from_utf8_lossy(&output[start..])
                    .trim_end()
                    .to_owned(),
            });
        }
    }
    Ok(())
}
