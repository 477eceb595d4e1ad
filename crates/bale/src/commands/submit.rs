//! `bale submit DIR | GIT-URL`: queue a build on the build service.

use anyhow::Context;
use clap::Args;

use crate::exit::Failure;
use crate::printer::Printer;

/// `bale submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// A source directory (on the workers' machine) or a git URL.
    pub source: String,
    /// The branch, tag or commit to build (git sources).
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Rebuild the dependency layer instead of reusing it.
    #[arg(long)]
    pub fresh: bool,
    /// The build service (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub server: Option<String>,
    /// Follow the build's log and exit with its result.
    #[arg(long)]
    pub wait: bool,
}

pub fn run(args: SubmitArgs, printer: &Printer) -> Result<(), Failure> {
    let source = if bale_service::worker::source_is_git(&args.source) {
        args.source.clone()
    } else {
        // Workers see absolute paths only; check the manifest is there before queueing.
        let dir = std::path::Path::new(&args.source);
        let dir = dir
            .canonicalize()
            .with_context(|| format!("no source directory at {}", dir.display()))?;
        if !dir.join("bale.toml").is_file() {
            return Err(Failure::user(anyhow::anyhow!(
                "no bale.toml in {}: run `bale init` there first",
                dir.display()
            )));
        }
        dir.display().to_string()
    };
    let client = super::builds::client(args.server.clone())?;
    let runtime = super::serve::runtime()?;
    let request = bale_api::SubmitRequest {
        source: source.clone(),
        git_ref: args.git_ref.clone(),
        fresh: args.fresh,
    };
    let build = runtime
        .block_on(client.submit(&request))
        .map_err(|e| Failure::user(e.into()))?;
    let id = build.id;
    if printer.json() && !args.wait {
        return printer.print_json(&build);
    }
    printer.line(id);
    printer.status("Queued", format!("build {id} of {source}"));
    if !args.wait {
        return Ok(());
    }
    let status = runtime
        .block_on(client.follow_log(id, &mut |line| printer.raw_stderr(line)))
        .map_err(|e| Failure::user(e.into()))?;
    super::builds::ended(&runtime, &client, id, status)?;
    printer.status("Succeeded", format!("build {id}"));
    Ok(())
}
