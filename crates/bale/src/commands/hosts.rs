//! `bale deploy APP COORDINATE --hosts H1,H2 [--rolling]`: the same deploy on
//! several machines over ssh, each installing from the repository.

use std::path::PathBuf;

use anyhow::Context;
use bale_coordinate::Coordinate;
use bale_remote::{HostResult, Order, Outcome, RemoteBale, RemoteDeploy, Ssh};

use crate::cli::DeployArgs;
use crate::exit::{refuse, Failure};
use crate::machine::Machine;
use crate::printer::Printer;

/// Runs the deploy on every host of `--hosts` and reports each host's result.
pub fn run(args: &DeployArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let flags = &args.hosts;
    let hosts = bale_remote::parse_hosts(flags.hosts.as_deref().unwrap_or_default())?;
    let coordinate = coordinate(&args.package)?;
    let ssh = match flags
        .ssh
        .clone()
        .or_else(|| bale_home::env::non_blank(bale_home::env::BALE_SSH))
    {
        Some(command) => Ssh::from_command(&command)?,
        None => Ssh::system(),
    };
    let bale = match &flags.remote_bale {
        Some(path) => RemoteBale::Given(path.clone()),
        None => RemoteBale::SameAsLocal(
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("bale")),
        ),
    };
    let plan = RemoteDeploy {
        app: args.app.clone(),
        coordinate: coordinate.to_string(),
        repo: Some(machine.repo_url(flags.repo.clone())),
        env: args.env.clone(),
        keep: Some(args.keep),
        wait: args.wait,
        allow_unsigned: args.allow_unsigned,
        bale,
    };
    let order = if flags.rolling {
        Order::Rolling
    } else {
        Order::Parallel
    };
    let names: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    printer.status(
        "Deploying",
        format!(
            "{coordinate} as {} on {} ({})",
            args.app,
            names.join(", "),
            if flags.rolling {
                "rolling"
            } else {
                "in parallel"
            }
        ),
    );
    let results = bale_remote::roll_out(&hosts, &plan, &ssh, order, &|host, line| {
        printer.status(&format!("[{host}]"), line.trim_start())
    })?;

    if printer.json() {
        printer.print_json(&serde_json::json!({
            "app": args.app,
            "coordinate": coordinate.to_string(),
            "rolling": flags.rolling,
            "hosts": results.iter().map(host_json).collect::<Vec<_>>(),
        }))?;
    } else {
        for result in &results {
            summarise(result, printer);
        }
    }
    let failed: Vec<String> = results
        .iter()
        .filter(|r| !r.deployed())
        .map(|r| r.host.to_string())
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    refuse!(
        "{} of {} hosts do not have {coordinate}: {}",
        failed.len(),
        results.len(),
        failed.join(", ")
    )
}

/// The coordinate to deploy; a package file cannot be sent to the hosts.
fn coordinate(text: &str) -> Result<Coordinate, Failure> {
    if text.ends_with(".bale") || std::path::Path::new(text).is_file() {
        refuse!(
            "--hosts installs from a repository: publish {text} with `bale publish` and deploy its coordinate (group:name:version)"
        );
    }
    Ok(text
        .parse::<Coordinate>()
        .context("--hosts needs the coordinate group:name:version of a published package")?)
}

fn summarise(result: &HostResult, printer: &Printer) {
    let host = &result.host;
    let secs = result.elapsed.as_secs_f64();
    match &result.outcome {
        Outcome::Deployed => printer.status(
            "Deployed",
            format!(
                "{host}: {} ({secs:.1}s)",
                result.last_line().unwrap_or("done")
            ),
        ),
        Outcome::Failed { reason, .. } => {
            let last = result
                .last_line()
                .map(|l| format!("; last output: {l}"))
                .unwrap_or_default();
            printer.warn(format!("{host}: {reason}{last}"));
        }
        Outcome::NotAttempted { stopped_at } => printer.warn(format!(
            "{host}: not attempted and left untouched; the rolling deploy stopped at {stopped_at}"
        )),
    }
}

fn host_json(result: &HostResult) -> serde_json::Value {
    let (status, code, reason) = match &result.outcome {
        Outcome::Deployed => ("deployed", None, None),
        Outcome::Failed { code, reason } => ("failed", *code, Some(reason.clone())),
        Outcome::NotAttempted { stopped_at } => (
            "not-attempted",
            None,
            Some(format!("the rolling deploy stopped at {stopped_at}")),
        ),
    };
    serde_json::json!({
        "host": result.host.to_string(),
        "status": status,
        "exit_code": code,
        "reason": reason,
        "elapsed_ms": u64::try_from(result.elapsed.as_millis()).unwrap_or(u64::MAX),
        "output": result.output,
    })
}
