//! `bale query --file PATH | --library SONAME`: which published packages
//! ship a file, or which have ELF files that need a library.

use bale_api::SearchResults;

use crate::cli::QueryArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: QueryArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let client = super::builds::client(machine, args.repo)?;
    let query = bale_api::SearchQuery {
        file: args.file,
        library: args.library,
    };
    let found = machine.runtime()?.block_on(client.search(&query))?;
    // Each hit as `coordinate  path  detail`: the soname a file needs, else the found file's class.
    let hits: Vec<(String, String, String)> = match &found {
        SearchResults::Files { packages, .. } => {
            if printer.json() {
                return printer.print_json(packages);
            }
            packages
                .iter()
                .map(|hit| {
                    let class = hit.class.clone().unwrap_or_else(|| "-".into());
                    (hit.coordinate.clone(), hit.path.clone(), class)
                })
                .collect()
        }
        SearchResults::Libraries { packages, .. } => {
            if printer.json() {
                return printer.print_json(packages);
            }
            packages
                .iter()
                .map(|hit| (hit.coordinate.clone(), hit.path.clone(), hit.soname.clone()))
                .collect()
        }
    };
    for (coordinate, path, detail) in &hits {
        printer.line(format!("{coordinate}  {path}  {detail}"));
    }
    if hits.is_empty() {
        printer.status("None", "no published package matches");
    }
    Ok(())
}
