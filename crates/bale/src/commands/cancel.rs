//! `bale cancel ID`: stop a build (a queued one at once, a running one by
//! killing its processes).

use clap::Args;

use crate::exit::Failure;
use crate::printer::Printer;

/// `bale cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The build's id.
    pub id: i64,
    /// The build service (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub server: Option<String>,
}

pub fn run(args: CancelArgs, printer: &Printer) -> Result<(), Failure> {
    let client = super::builds::client(args.server)?;
    let answer = super::serve::runtime()?
        .block_on(client.cancel(args.id))
        .map_err(|e| Failure::user(e.into()))?;
    if printer.json() {
        return printer.print_json(&answer);
    }
    if !answer.cancel_requested {
        printer.status("Canceled", format!("build {}", args.id));
    } else {
        printer.status(
            "Canceling",
            format!("build {}: its worker is stopping it", args.id),
        );
    }
    Ok(())
}
