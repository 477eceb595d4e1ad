//! `bale builds`: the build service's builds, newest first; and the log of
//! one build for `bale logs --build ID [-f]` and `bale submit --wait`.

use bale_api::{BuildListQuery, BuildStatus};
use bale_service::client::ServiceClient;

use crate::cli::BuildsArgs;
use crate::exit::{refuse, Failure};
use crate::machine::Machine;
use crate::printer::Printer;

/// A client of the service, with `BALE_TOKEN` for write calls.
pub(crate) fn client(machine: &Machine, server: Option<String>) -> Result<ServiceClient, Failure> {
    Ok(ServiceClient::new(
        &machine.repo_url(server),
        machine.token(),
    )?)
}

pub fn run(args: BuildsArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let client = client(machine, args.server)?;
    let query = BuildListQuery {
        package: args.package,
        status: args.status,
        limit: None,
    };
    let list = machine.runtime()?.block_on(client.list(&query))?;
    if printer.json() {
        return printer.print_json(&list.builds);
    }
    printer.line(format!(
        "{:>6}  {:<16} {:<36} {:<8} {:>9}  {:<20} SOURCE",
        "ID", "STATUS", "COORDINATE", "ARCH", "DURATION", "WORKER"
    ));
    for build in &list.builds {
        printer.line(format!(
            "{:>6}  {:<16} {:<36} {:<8} {:>9}  {:<20} {}",
            build.id,
            build.status,
            text(build.coordinate.as_deref()),
            text(build.arch.as_deref()),
            build
                .duration_ms
                .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
            text(build.worker.as_deref()),
            build.source,
        ));
        // A build that did not reproduce names what differs, under its row.
        for difference in build.reproducibility.iter().flat_map(|r| &r.differences) {
            printer.line(format!("{:>8}differs: {difference}", ""));
        }
    }
    Ok(())
}

fn text(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}

/// Prints a build's log: what there is, or (`follow`) everything until it
/// ends. Fails unless a followed build succeeded.
pub(crate) fn show_log(
    machine: &Machine,
    server: Option<String>,
    id: i64,
    follow: bool,
    printer: &Printer,
) -> Result<(), Failure> {
    let client = client(machine, server)?;
    let runtime = machine.runtime()?;
    if !follow {
        let text = runtime.block_on(client.log_text(id))?;
        text.lines().for_each(|line| printer.line(line));
        return Ok(());
    }
    let status = runtime.block_on(client.follow_log(id, &mut |line| printer.line(line)))?;
    ended(runtime, &client, id, status)
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
    refuse!("build {id} {status}{reason}")
}
