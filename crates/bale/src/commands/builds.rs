//! `bale builds`: the build service's builds, newest first; and the log of
//! one build for `bale logs --build ID [-f]` and `bale submit --wait`.

use bale_api::{BuildListQuery, BuildStatus};
use bale_service::client::ServiceClient;
use clap::Args;

use crate::exit::Failure;
use crate::printer::Printer;

/// `bale builds`.
#[derive(Debug, Args)]
pub struct BuildsArgs {
    /// Only builds of this package (NAME or GROUP:NAME).
    #[arg(long)]
    pub package: Option<String>,
    /// Only builds in this status (queued, running, succeeded, failed, timed-out, canceled, not-reproducible).
    #[arg(long)]
    pub status: Option<String>,
    /// The build service (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub server: Option<String>,
}

/// The service URL: the flag, else `BALE_REPO`, else the local server.
pub(crate) fn server_url(flag: Option<String>) -> String {
    bale_home::env::server_url(flag)
}

/// A client of the service, with `BALE_TOKEN` for write calls.
pub(crate) fn client(server: Option<String>) -> Result<ServiceClient, Failure> {
    ServiceClient::new(&server_url(server), bale_home::env::token())
        .map_err(|e| Failure::user(e.into()))
}

pub fn run(args: BuildsArgs, printer: &Printer) -> Result<(), Failure> {
    let client = client(args.server)?;
    let query = BuildListQuery {
        package: args.package,
        status: args.status,
        limit: None,
    };
    let list = super::serve::runtime()?
        .block_on(client.list(&query))
        .map_err(|e| Failure::user(e.into()))?;
    if printer.json() {
        return printer.print_json(&list.builds);
    }
    printer.line(format!(
        "{:>6}  {:<16} {:<36} {:>9}  {:<20} SOURCE",
        "ID", "STATUS", "COORDINATE", "DURATION", "WORKER"
    ));
    for build in &list.builds {
        printer.line(format!(
            "{:>6}  {:<16} {:<36} {:>9}  {:<20} {}",
            build.id,
            build.status,
            text(build.coordinate.as_deref()),
            build
                .duration_ms
                .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
            text(build.worker.as_deref()),
            build.source,
        ));
    }
    Ok(())
}

fn text(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}

/// Prints a build's log: what there is, or (`follow`) everything until it
/// ends. Fails unless a followed build succeeded.
pub(crate) fn show_log(
    server: Option<String>,
    id: i64,
    follow: bool,
    printer: &Printer,
) -> Result<(), Failure> {
    let client = client(server)?;
    let runtime = super::serve::runtime()?;
    if !follow {
        let text = runtime
            .block_on(client.log_text(id))
            .map_err(|e| Failure::user(e.into()))?;
        text.lines().for_each(|line| printer.line(line));
        return Ok(());
    }
    let status = runtime
        .block_on(client.follow_log(id, &mut |line| printer.line(line)))
        .map_err(|e| Failure::user(e.into()))?;
    ended(&runtime, &client, id, status)
}

/// Success when the build succeeded, else a failure with its error.
pub(crate) fn ended(
    runtime: &tokio::runtime::Runtime,
    client: &ServiceClient,
    id: i64,
    status: BuildStatus,
) -> Result<(), Failure> {
    if status == BuildStatus::Succeeded {
        return Ok(());
    }
    // The reason is a detail: a record that cannot be read still leaves the status to report.
    let reason = runtime
        .block_on(client.build(id))
        .ok()
        .and_then(|record| record.error)
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    Err(Failure::user(anyhow::anyhow!(
        "build {id} {status}{reason}"
    )))
}
