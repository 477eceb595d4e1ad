//! `bale stack create|start|stop|sanitize|rm NAME` and `bale stack list`.

use crate::cli::StackCommand;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(command: StackCommand, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let stacks = machine.stacks()?;
    match command {
        StackCommand::Create {
            name,
            mirror,
            recreate,
        } => {
            let mut progress = |line: &str| printer.status("Stack", line);
            let image = if recreate {
                stacks.recreate(&name, mirror.as_deref(), &mut progress)?
            } else {
                stacks.create(&name, mirror.as_deref(), &mut progress)?
            };
            if printer.json() {
                return printer.print_json(&serde_json::json!({
                    "name": image.name, "root": image.root, "digest": image.digest,
                    "identity": image.identity,
                }));
            }
            printer.status(
                if recreate { "Recreated" } else { "Created" },
                format!(
                    "stack {} (identity {}; image {})",
                    image.name, image.identity, image.digest
                ),
            );
        }
        StackCommand::Start { name } => {
            stacks.start(&name)?;
            printer.status("Started", format!("stack {name} is kept warm"));
        }
        StackCommand::Stop { name } => {
            stacks.stop(&name)?;
            printer.status(
                "Stopped",
                format!("stack {name}; its dependency layers were dropped"),
            );
        }
        StackCommand::Sanitize { name } => {
            let report = stacks.sanitize(&name, &mut |line| printer.status("Stack", line))?;
            if printer.json() {
                return printer.print_json(&serde_json::json!({
                    "name": name, "rebuilt": report.rebuilt, "digest": report.digest,
                    "differences": report.differences.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                }));
            }
            if report.rebuilt {
                printer.status(
                    "Rebuilt",
                    format!(
                        "stack {name} ({} difference(s); now {})",
                        report.differences.len(),
                        report.digest
                    ),
                );
            } else {
                printer.status(
                    "Checked",
                    format!("stack {name} matches its record ({})", report.digest),
                );
            }
        }
        StackCommand::Rm { name } => {
            stacks.rm(&name)?;
            printer.status("Removed", format!("stack {name}"));
        }
        StackCommand::List => {
            let list = stacks.list()?;
            if printer.json() {
                return printer.print_json(&list);
            }
            printer.line(format!(
                "{:<24} {:<12} {:<8} {:>10}  DIGEST",
                "NAME", "KIND", "STATE", "SIZE"
            ));
            for s in list {
                let size = s
                    .size_bytes
                    .map(super::inspect::human_bytes)
                    .unwrap_or_else(|| "-".into());
                let digest = s.digest.unwrap_or_else(|| "-".into());
                printer.line(format!(
                    "{:<24} {:<12} {:<8} {:>10}  {digest}",
                    s.name,
                    s.kind,
                    s.state.to_string(),
                    size
                ));
            }
        }
    }
    Ok(())
}
