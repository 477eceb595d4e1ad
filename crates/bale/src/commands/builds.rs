//! `bale builds`: the build service's builds, newest first; and the log of
//! one build for `bale logs --build ID [-f]` and `bale submit --wait`.

use bale_service::client::ServiceClient;
use serde_json::Value;

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
    let list = machine
        .runtime()?
        .block_on(client.list(args.package.as_deref(), args.status.as_deref()))?;
    if printer.json() {
        return printer.print_json(&list["builds"]);
    }
    printer.line(format!(
        "{:>6}  {:<16} {:<36} {:>9}  {:<20} SOURCE",
        "ID", "STATUS", "COORDINATE", "DURATION", "WORKER"
    ));
    for build in list["builds"].as_array().into_iter().flatten() {
        printer.line(format!(
            "{:>6}  {:<16} {:<36} {:>9}  {:<20} {}",
            build["id"],
            text(&build["status"]),
            text(&build["coordinate"]),
            build["duration_ms"]
                .as_i64()
                .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
            text(&build["worker"]),
            text(&build["source"]),
        ));
    }
    Ok(())
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| "-".into())
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
    ended(runtime, &client, id, &status)
}

/// Success when the build succeeded, else a failure with its error.
pub(crate) fn ended(
    runtime: &tokio::runtime::Runtime,
    client: &ServiceClient,
    id: i64,
    status: &str,
) -> Result<(), Failure> {
    if status == "succeeded" {
        return Ok(());
    }
    let record = runtime.block_on(client.build(id)).unwrap_or(Value::Null);
    let reason = record["error"]
        .as_str()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    refuse!("build {id} {status}{reason}")
}
