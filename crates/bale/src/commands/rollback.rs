//! `bale rollback APP [--to ID]`: make an earlier deployment current again.

use crate::cli::RollbackArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: RollbackArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let done = bale_app::rollback(
        machine.home()?,
        &args.app,
        args.to.as_deref(),
        super::deploy::wait(args.wait),
        machine.isolation()?,
        &|verb, text| printer.status(verb, text),
    )?;
    if printer.json() {
        return printer.print_json(&serde_json::json!({
            "app": args.app,
            "from": { "id": done.from.id, "coordinate": done.from.coordinate.to_string() },
            "to": { "id": done.to.id, "coordinate": done.to.coordinate.to_string() },
        }));
    }
    printer.status(
        "Rolled back",
        format!(
            "{} from {} to {} ({})",
            args.app,
            done.from.coordinate,
            done.to.coordinate,
            bale_app::short(&done.to.id)
        ),
    );
    Ok(())
}
