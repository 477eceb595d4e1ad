//! `bale deploy APP PACKAGE`: install, check the kits, switch, start; roll back on failure.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use bale_app::{DeployOptions, PackageRef, Wait};
use bale_coordinate::Coordinate;

use crate::cli::DeployArgs;
use crate::exit::{refuse, Failure};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(mut args: DeployArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    if let Some(file) = &args.env_file {
        let mut env = read_env_file(file)?;
        env.append(&mut args.env);
        args.env = env;
    }
    if args.hosts.hosts.is_some() {
        return super::hosts::run(&args, machine, printer);
    }
    let home = machine.home()?;
    let mut package = package_ref(&args.package)?;
    // Step 1 of a deploy is the install: a coordinate not installed here comes from the repository.
    let mut _fetched = None;
    if let PackageRef::Installed(coordinate) = &package {
        if !home.package_dir(coordinate).is_dir() {
            let (scratch, archive) = super::repo::fetch_for_install(
                machine,
                coordinate,
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
        isolation: machine.isolation()?,
        proxy: bale_app::ProxyLaunch::Detached,
    };
    let deployed = bale_app::deploy(home, &args.app, &package, &options, &|verb, text| {
        printer.status(verb, text)
    })?;
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
    .with_context(|| format!("--env-file: cannot read {shown}"))?;
    let mut env = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match parse_env(line) {
            Ok(pair) => env.push(pair),
            Err(e) => refuse!("--env-file {shown}, line {}: {e}", number + 1),
        }
    }
    Ok(env)
}

/// A package file when the argument names one (or looks like a path: it
/// ends in `.bale` or holds a `/`, which no coordinate does), else a coordinate.
pub(super) fn package_ref(text: &str) -> Result<PackageRef, Failure> {
    let path = PathBuf::from(text);
    if path.is_file() || text.ends_with(".bale") || text.contains('/') {
        if !path.is_file() {
            refuse!("{text}: no such package file");
        }
        return Ok(PackageRef::File(path));
    }
    let coordinate = text
        .parse::<Coordinate>()
        .with_context(|| format!("`{text}` is neither a package file nor a coordinate"))?;
    Ok(PackageRef::Installed(coordinate))
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
