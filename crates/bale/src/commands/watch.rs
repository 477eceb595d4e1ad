//! `bale watch`: polls a git remote and submits a build for each pushed
//! `<name>-<version>` branch or `v<version>` tag, for when no webhook can
//! reach the service.

use std::time::Duration;

use anyhow::{anyhow, Context};
use bale_api::{SubmitRequest, WatchFailed, WatchQueued, WatchRefused, WatchReport};
use bale_manifest::HumanDuration;
use bale_service::client::ServiceClient;
use bale_trigger::{Poll, Watch};
use clap::Args;

use crate::exit::{Failure, Internal};
use crate::printer::Printer;

/// `bale watch`.
#[derive(Debug, Args)]
#[command(
    after_help = "Each new or moved branch `<name>-<version>` or tag `v<version>` is submitted as a build (POST /api/v1/builds, token: BALE_TOKEN); other branches are reported as refused, once. The refs seen are kept in $BALE_HOME/watch/, so a restarted watch submits only what is new; the first poll of a remote submits every version ref it has, unless --skip-existing."
)]
pub struct WatchArgs {
    /// The git remote to poll (a URL or a path; anything `git ls-remote` takes).
    pub remote: String,
    /// The build service (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub server: Option<String>,
    /// How long to wait between polls, e.g. `30s`, `5m`.
    #[arg(long, default_value = "30s")]
    pub interval: String,
    /// Poll once and exit (1 if a build could not be submitted).
    #[arg(long)]
    pub once: bool,
    /// On the first poll of a remote, record the version refs it already has
    /// without building them: only later pushes are built.
    #[arg(long)]
    pub skip_existing: bool,
}

pub fn run(args: WatchArgs, printer: &Printer) -> Result<(), Failure> {
    let interval = HumanDuration::parse(&args.interval)
        .map_err(|e| Failure::user(e.into()))?
        .as_duration();
    let server = super::builds::server_url(args.server.clone());
    let home = super::home()?;
    let watch = Watch::new(args.remote.clone(), &home.watch_dir());
    let service = super::builds::client(args.server)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .internal()?;

    if args.skip_existing && !watch.state_file().exists() {
        // Polling records every ref as seen; nothing is submitted.
        let poll = watch.poll().map_err(|e| Failure::user(e.into()))?;
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
        let poll = watch.poll().map_err(|e| Failure::user(e.into()))?;
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
                watch
                    .forget(&build.full_ref())
                    .map_err(|e| Failure::internal(e.into()))?;
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
        Err(Failure::user(anyhow!(
            "{} of {} builds could not be submitted",
            failures,
            poll.triggers.len()
        )))
    }
}

/// A commit id as people read it.
fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
