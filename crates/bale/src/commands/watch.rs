//! `bale watch`: polls a git remote and submits a build for each pushed
//! `<name>-<version>` branch or `v<version>` tag, for when no webhook can
//! reach the service.

use std::time::Duration;

use crate::cli::WatchArgs;
use crate::exit::{refuse, Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;
use bale_api::{SubmitRequest, WatchFailed, WatchQueued, WatchRefused, WatchReport};
use bale_manifest::HumanDuration;
use bale_service::client::ServiceClient;
use bale_trigger::{Poll, Watch};

pub fn run(args: WatchArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let interval = HumanDuration::parse(&args.interval)?.as_duration();
    let server = machine.repo_url(args.server.clone());
    let watch = Watch::new(args.remote.clone(), &machine.home()?.watch_dir());
    let service = super::builds::client(machine, args.server)?;
    let runtime = machine.runtime()?;

    if args.skip_existing && !watch.state_file().exists() {
        // Polling records every ref as seen; nothing is submitted.
        let poll = watch.poll()?;
        let skipped: Vec<&str> = poll.triggers.iter().map(|t| t.git_ref.as_str()).collect();
        printer.status(
            "Skipped",
            format!(
                "{} version ref(s) {} already has: {}",
                skipped.len(),
                args.remote,
                skipped.join(", ")
            ),
        );
        if args.once {
            if printer.json() {
                return printer.print_json(&WatchReport {
                    queued: Vec::new(),
                    refused: Vec::new(),
                    failed: Vec::new(),
                    skipped: Some(skipped.into_iter().map(str::to_owned).collect()),
                });
            }
            return Ok(());
        }
        std::thread::sleep(interval.max(Duration::from_secs(1)));
    }

    if args.once {
        let poll = watch.poll()?;
        return runtime.block_on(submit_all(&watch, &service, poll, printer));
    }
    printer.status(
        "Watching",
        format!(
            "{} every {} (builds go to {server})",
            args.remote, args.interval
        ),
    );
    loop {
        // A remote or service that is down for a while is reported and polled again, not fatal.
        match watch.poll() {
            Ok(poll) => {
                if let Err(failure) = runtime.block_on(submit_all(&watch, &service, poll, printer))
                {
                    printer.warn(format!("{:#}", failure.error()));
                }
            }
            Err(e) => printer.warn(e),
        }
        std::thread::sleep(interval.max(Duration::from_secs(1)));
    }
}

/// Submits every trigger and reports every refusal; a trigger that could not be
/// submitted is forgotten so the next poll offers it again.
async fn submit_all(
    watch: &Watch,
    service: &ServiceClient,
    poll: Poll,
    printer: &Printer,
) -> Result<(), Failure> {
    let mut queued = Vec::new();
    let mut failed = Vec::new();
    for build in &poll.triggers {
        let request = SubmitRequest {
            source: watch.remote().to_owned(),
            git_ref: Some(build.git_ref.clone()),
            fresh: false,
            // The server's `[server] check_reproducible` decides.
            check: false,
            arch: None,
        };
        match service.submit(&request).await {
            Ok(queued_build) => {
                let id = queued_build.id;
                printer.status(
                    "Queued",
                    format!(
                        "build {id}: `{}` ({}) at {}",
                        build.git_ref,
                        build.version,
                        short(&build.commit)
                    ),
                );
                queued.push(WatchQueued {
                    id,
                    git_ref: build.git_ref.clone(),
                    commit: build.commit.clone(),
                    version: build.version.clone(),
                    name: build.name.clone(),
                });
            }
            Err(e) => {
                watch.forget(&build.full_ref()).internal()?;
                printer.warn(format!(
                    "`{}` was not submitted (tried again at the next poll): {e:#}",
                    build.git_ref
                ));
                failed.push(WatchFailed {
                    git_ref: build.git_ref.clone(),
                    error: format!("{e:#}"),
                });
            }
        }
    }
    for refusal in &poll.refused {
        printer.status(
            "Refused",
            format!("`{}`: {}", refusal.full_ref, refusal.reason),
        );
    }
    let failures = failed.len();
    if printer.json() {
        let refused = poll
            .refused
            .iter()
            .map(|r| WatchRefused {
                full_ref: r.full_ref.clone(),
                commit: r.commit.clone(),
                reason: r.reason.clone(),
            })
            .collect();
        printer.print_json(&WatchReport {
            queued,
            refused,
            failed,
            skipped: None,
        })?;
    } else if poll.triggers.is_empty() && poll.refused.is_empty() {
        printer.status("Unchanged", watch.remote());
    }
    if failures == 0 {
        Ok(())
    } else {
        refuse!(
            "{} of {} builds could not be submitted",
            failures,
            poll.triggers.len()
        )
    }
}

/// A commit id as people read it.
fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
