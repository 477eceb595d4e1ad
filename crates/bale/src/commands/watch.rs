//! `bale watch`: polls a git remote and submits a build for each pushed
//! `<name>-<version>` branch or `v<version>` tag, for when no webhook can
//! reach the service.

use std::time::Duration;

use anyhow::{anyhow, Context};
use bale_manifest::HumanDuration;
use bale_trigger::{Poll, TriggeredBuild, Watch};

use crate::cli::WatchArgs;
use crate::exit::{refuse, Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: WatchArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let interval = HumanDuration::parse(&args.interval)?.as_duration();
    let server = machine.repo_url(args.server.clone());
    let token = machine.token();
    let home = machine.home()?;
    let watch = Watch::new(args.remote.clone(), &home.root().join("watch"));
    let service = Service {
        url: format!("{}/api/v1/builds", server.trim_end_matches('/')),
        token,
        client: reqwest::Client::new(),
    };
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
                return printer.print_json(&serde_json::json!({"queued": [], "refused": [], "failed": [], "skipped": skipped}));
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

/// Where builds are submitted.
struct Service {
    url: String,
    token: Option<String>,
    client: reqwest::Client,
}

/// Submits every trigger and reports every refusal; a trigger that could not be
/// submitted is forgotten so the next poll offers it again.
async fn submit_all(
    watch: &Watch,
    service: &Service,
    poll: Poll,
    printer: &Printer,
) -> Result<(), Failure> {
    let mut queued = Vec::new();
    let mut failed = Vec::new();
    for build in &poll.triggers {
        match submit(service, watch.remote(), build).await {
            Ok(id) => {
                printer.status(
                    "Queued",
                    format!(
                        "build {id}: `{}` ({}) at {}",
                        build.git_ref,
                        build.version,
                        short(&build.commit)
                    ),
                );
                queued.push(serde_json::json!({
                    "id": id, "ref": build.git_ref, "commit": build.commit, "version": build.version, "name": build.name,
                }));
            }
            Err(e) => {
                watch.forget(&build.full_ref()).internal()?;
                printer.warn(format!(
                    "`{}` was not submitted (tried again at the next poll): {e:#}",
                    build.git_ref
                ));
                failed.push(serde_json::json!({ "ref": build.git_ref, "error": format!("{e:#}") }));
            }
        }
    }
    for refusal in &poll.refused {
        printer.status(
            "Refused",
            format!("`{}`: {}", refusal.full_ref, refusal.reason),
        );
    }
    if printer.json() {
        printer.print_json(
            &serde_json::json!({ "queued": queued, "refused": poll.refused, "failed": failed }),
        )?;
    } else if poll.triggers.is_empty() && poll.refused.is_empty() {
        printer.status("Unchanged", watch.remote());
    }
    if failed.is_empty() {
        Ok(())
    } else {
        refuse!(
            "{} of {} builds could not be submitted",
            failed.len(),
            poll.triggers.len()
        )
    }
}

/// POSTs one build; returns its id.
async fn submit(
    service: &Service,
    remote: &str,
    build: &TriggeredBuild,
) -> anyhow::Result<serde_json::Value> {
    let mut request = service
        .client
        .post(&service.url)
        .json(&serde_json::json!({ "source": remote, "ref": build.git_ref, "fresh": false }));
    if let Some(token) = &service.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("sending the build to {}", service.url))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        let message = body["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| body.to_string());
        let hint = if status.as_u16() == 401 {
            " (set BALE_TOKEN to a token with the build scope)"
        } else {
            ""
        };
        return Err(anyhow!(
            "{} answered {status}: {message}{hint}",
            service.url
        ));
    }
    Ok(body.get("id").cloned().unwrap_or(serde_json::Value::Null))
}

/// A commit id as people read it.
fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}
