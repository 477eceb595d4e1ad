//! `bale query --file PATH | --library SONAME`: which published packages
//! ship a file, or which have ELF files that need a library.

use crate::cli::QueryArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: QueryArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let client = super::builds::client(machine, args.repo)?;
    let found = machine
        .runtime()?
        .block_on(client.search(args.file.as_deref(), args.library.as_deref()))?;
    let hits = found["packages"].as_array().cloned().unwrap_or_default();
    if printer.json() {
        return printer.print_json(&hits);
    }
    for hit in &hits {
        let detail = hit["soname"]
            .as_str()
            .or(hit["class"].as_str())
            .unwrap_or("-");
        printer.line(format!(
            "{}  {}  {detail}",
            hit["coordinate"].as_str().unwrap_or("?"),
            hit["path"].as_str().unwrap_or("?")
        ));
    }
    if hits.is_empty() {
        printer.status("None", "no published package matches");
    }
    Ok(())
}
