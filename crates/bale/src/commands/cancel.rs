//! `bale cancel ID`: stop a build (a queued one at once, a running one by
//! killing its processes).

use crate::cli::CancelArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: CancelArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let client = super::builds::client(machine, args.server)?;
    let answer = machine.runtime()?.block_on(client.cancel(args.id))?;
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
