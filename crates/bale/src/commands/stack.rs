//! `bale stack create|start|stop|sanitize|rm NAME [--arch ARCH]` and `bale stack list`.

use bale_stack::{Stacks, UNMARKED_ARCH};

use crate::cli::StackCommand;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

/// The stacks acting on the images for `arch` (default: the machine's).
fn for_arch(machine: &Machine, arch: Option<&str>) -> Result<Stacks, Failure> {
    let stacks = machine.stacks()?.clone();
    Ok(match arch {
        Some(arch) => stacks.with_arch(arch)?,
        None => stacks,
    })
}

/// How the image of `name` for `arch` is called in messages: `debian-bookworm`
/// for the unmarked architecture, `debian-bookworm (arm64)` for others.
fn label(name: &str, arch: &str) -> String {
    if arch == UNMARKED_ARCH {
        name.to_string()
    } else {
        format!("{name} ({arch})")
    }
}

pub fn run(command: StackCommand, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    match command {
        StackCommand::Create {
            name,
            mirror,
            recreate,
            arch,
        } => {
            let stacks = for_arch(machine, arch.as_deref())?;
            let mut progress = |line: &str| printer.status("Stack", line);
            let image = if recreate {
                stacks.recreate(&name, mirror.as_deref(), &mut progress)?
            } else {
                stacks.create(&name, mirror.as_deref(), &mut progress)?
            };
            if printer.json() {
                return printer.print_json(&serde_json::json!({
                    "name": image.name, "arch": image.arch, "root": image.root,
                    "digest": image.digest, "identity": image.identity,
                }));
            }
            printer.status(
                if recreate { "Recreated" } else { "Created" },
                format!(
                    "stack {} (identity {}; image {})",
                    label(&image.name, &image.arch),
                    image.identity,
                    image.digest
                ),
            );
        }
        StackCommand::Start { name, arch } => {
            let stacks = for_arch(machine, arch.as_deref())?;
            stacks.start(&name)?;
            let name = label(&name, stacks.arch());
            printer.status("Started", format!("stack {name} is kept warm"));
        }
        StackCommand::Stop { name, arch } => {
            let stacks = for_arch(machine, arch.as_deref())?;
            stacks.stop(&name)?;
            let name = label(&name, stacks.arch());
            printer.status(
                "Stopped",
                format!("stack {name}; its dependency layers were dropped"),
            );
        }
        StackCommand::Sanitize { name, arch } => {
            let stacks = for_arch(machine, arch.as_deref())?;
            let report = stacks.sanitize(&name, &mut |line| printer.status("Stack", line))?;
            if printer.json() {
                return printer.print_json(&serde_json::json!({
                    "name": name, "arch": stacks.arch(), "rebuilt": report.rebuilt, "digest": report.digest,
                    "differences": report.differences.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                }));
            }
            let name = label(&name, stacks.arch());
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
        StackCommand::Rm { name, arch } => {
            let stacks = for_arch(machine, arch.as_deref())?;
            stacks.rm(&name)?;
            printer.status("Removed", format!("stack {}", label(&name, stacks.arch())));
        }
        StackCommand::List => {
            let list = machine.stacks()?.list()?;
            if printer.json() {
                return printer.print_json(&list);
            }
            // The table shortens both hashes; --json has them whole.
            printer.line(format!(
                "{:<24} {:<8} {:<12} {:<8} {:>10}  {:<19}  DIGEST",
                "NAME", "ARCH", "KIND", "STATE", "SIZE", "IDENTITY"
            ));
            for s in list {
                let size = s
                    .size_bytes
                    .map(super::inspect::human_bytes)
                    .unwrap_or_else(|| "-".into());
                let short = |hash: Option<String>| {
                    hash.map_or_else(|| "-".to_owned(), |h| h.chars().take(19).collect())
                };
                let identity = short(s.identity);
                let digest = short(s.digest);
                printer.line(format!(
                    "{:<24} {:<8} {:<12} {:<8} {:>10}  {identity:<19}  {digest}",
                    s.name,
                    s.arch,
                    s.kind,
                    s.state.to_string(),
                    size
                ));
            }
        }
    }
    Ok(())
}
