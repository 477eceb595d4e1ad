//! `bale submit DIR | GIT-URL`: queue a build on the build service.

use anyhow::Context;

use crate::cli::SubmitArgs;
use crate::exit::{refuse, Failure};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: SubmitArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let source = if bale_service::worker::source_is_git(&args.source) {
        args.source.clone()
    } else {
        // Workers see absolute paths only; check the manifest is there before queueing.
        let dir = std::path::Path::new(&args.source);
        let dir = dir
            .canonicalize()
            .with_context(|| format!("no source directory at {}", dir.display()))?;
        if !dir.join("bale.toml").is_file() {
            refuse!(
                "no bale.toml in {}: run `bale init` there first",
                dir.display()
            );
        }
        match dir.to_str() {
            Some(text) => text.to_owned(),
            None => refuse!(
                "{} is not valid UTF-8, and the build service takes its source as text: move the source to such a path",
                dir.display()
            ),
        }
    };
    let client = super::builds::client(machine, args.server.clone())?;
    let runtime = machine.runtime()?;
    let request = bale_api::SubmitRequest {
        source: source.clone(),
        git_ref: args.git_ref.clone(),
        fresh: args.fresh,
        check: args.check,
        arch: Some(
            args.arch
                .clone()
                .unwrap_or_else(|| bale_inspect::machine_arch().to_owned()),
        ),
    };
    let build = runtime.block_on(client.submit(&request))?;
    let id = build.id;
    if printer.json() && !args.wait {
        return printer.print_json(&build);
    }
    printer.line(id);
    let checked = if build.check {
        ", to be built twice and compared"
    } else {
        ""
    };
    printer.status("Queued", format!("build {id} of {source}{checked}"));
    if !args.wait {
        return Ok(());
    }
    let status = runtime.block_on(client.follow_log(id, &mut |line| printer.raw_stderr(line)))?;
    super::builds::ended(runtime, &client, id, status)?;
    printer.status("Succeeded", format!("build {id}"));
    Ok(())
}
