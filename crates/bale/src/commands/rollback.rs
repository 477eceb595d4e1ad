//! `bale rollback APP [--to ID]`: make an earlier deployment current again.

use crate::cli::RollbackArgs;
use crate::exit::Failure;
use crate::printer::Printer;

pub fn run(args: RollbackArgs, printer: &Printer) -> Result<(), Failure> {
    let home = super::home()?;
    let done = bale_app::rollback(
        &home,
        &args.app,
        args.to.as_deref(),
        super::deploy::wait(args.wait),
        super::deploy::machine_isolation(&home)?,
        &|verb, text| printer.status(verb, text),
    )
    .map_err(super::deploy::failure)?;
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
