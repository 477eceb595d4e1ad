//! `bale deploy APP PACKAGE`: install, check the kits, switch, start; roll back on failure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bale_app::{DeployError, DeployOptions, PackageRef, Wait};
use bale_coordinate::Coordinate;

use crate::cli::DeployArgs;
use crate::exit::Failure;
use crate::printer::Printer;

pub fn run(mut args: DeployArgs, printer: &Printer) -> Result<(), Failure> {
    if let Some(file) = &args.env_file {
        let mut env = read_env_file(file)?;
        env.append(&mut args.env);
        args.env = env;
    }
    if args.hosts.hosts.is_some() {
        return super::hosts::run(&args, printer);
    }
    let home = super::home()?;
    let mut package = package_ref(&args.package)?;
    // Step 1 of a deploy is the install: a coordinate not installed here comes from the repository.
    let mut _fetched = None;
    if let PackageRef::Installed(coordinate) = &package {
        if !home.package_dir(coordinate).is_dir() {
            let (scratch, archive) = super::repo::fetch_for_install(
                &home,
                &args.package,
                args.hosts.repo.clone(),
                printer,
            )?;
            _fetched = Some(scratch);
            package = PackageRef::File(archive);
        }
    }
    let options = DeployOptions {
        env: args.env.into_iter().collect::<BTreeMap<_, _>>(),
        keep: args.keep,
        wait: wait(args.wait),
        allow_unsigned: args.allow_unsigned,
        isolation: super::deploy::machine_isolation(&home)?,
    };
    let deployed = bale_app::deploy(&home, &args.app, &package, &options, &|verb, text| {
        printer.status(verb, text)
    })
    .map_err(failure)?;
    let deployment = &deployed.deployment;
    if printer.json() {
        return printer.print_json(&serde_json::json!({
            "app": args.app,
            "id": deployment.id,
            "coordinate": deployment.coordinate.to_string(),
            "deployment": deployment.name,
            "previous": deployed.previous.as_ref().map(|p| p.coordinate.to_string()),
            "services": deployed.services,
            "removed": deployed.removed.iter().map(|d| &d.name).collect::<Vec<_>>(),
        }));
    }
    let services = if deployed.services.is_empty() {
        "no services".to_owned()
    } else {
        format!("services: {}", deployed.services.join(", "))
    };
    printer.status(
        "Deployed",
        format!(
            "{} as {} ({}; {services})",
            deployment.coordinate,
            args.app,
            bale_app::short(&deployment.id)
        ),
    );
    Ok(())
}

/// The `NAME=VALUE` lines of `--env-file` (`-`: standard input), in order.
fn read_env_file(path: &std::path::Path) -> Result<Vec<(String, String)>, Failure> {
    let stdin = path == std::path::Path::new("-");
    let shown = if stdin {
        "standard input".to_owned()
    } else {
        path.display().to_string()
    };
    let text = if stdin {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| Failure::user(anyhow::anyhow!("--env-file: cannot read {shown}: {e}")))?;
    let mut env = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let pair = parse_env(line).map_err(|e| {
            Failure::user(anyhow::anyhow!(
                "--env-file {shown}, line {}: {e}",
                number + 1
            ))
        })?;
        env.push(pair);
    }
    Ok(env)
}

/// A package file when the argument names one (or ends in `.bale`), else a coordinate.
fn package_ref(text: &str) -> Result<PackageRef, Failure> {
    let path = PathBuf::from(text);
    if path.is_file() || text.ends_with(".bale") {
        if !path.is_file() {
            return Err(Failure::user(anyhow::anyhow!(
                "{text}: no such package file"
            )));
        }
        return Ok(PackageRef::File(path));
    }
    match text.parse::<Coordinate>() {
        Ok(coordinate) => Ok(PackageRef::Installed(coordinate)),
        Err(e) => Err(Failure::user(anyhow::anyhow!(
            "`{text}` is neither a package file nor a coordinate ({e})"
        ))),
    }
}

/// The lock policy for `--wait`.
pub(super) fn wait(wait: bool) -> Wait {
    if wait {
        Wait::Yes
    } else {
        Wait::No
    }
}

/// Parses `K=V` from `--env`.
pub fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

/// The exit code a deploy error means: bale's own I/O is internal, the rest the user's.
pub(super) fn failure(error: DeployError) -> Failure {
    match error {
        DeployError::Io { .. } => Failure::internal(error.into()),
        _ => Failure::user(error.into()),
    }
}

/// The machine's isolation for apps (`isolation` in $BALE_HOME/config.toml).
pub(super) fn machine_isolation(home: &bale_home::Home) -> Result<bale_app::Isolation, Failure> {
    bale_app::machine_isolation(home).map_err(failure)
}
