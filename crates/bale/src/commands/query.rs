//! `bale query --file PATH | --library SONAME`: which published packages
//! ship a file, or which have ELF files that need a library.

use bale_api::SearchResults;
use clap::{ArgGroup, Args};

use crate::exit::Failure;
use crate::printer::Printer;

/// `bale query`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["file", "library"])))]
pub struct QueryArgs {
    /// A path in the package, e.g. bin/hello.
    #[arg(long)]
    pub file: Option<String>,
    /// A library's soname, e.g. libssl.so.3.
    #[arg(long, visible_alias = "needs")]
    pub library: Option<String>,
    /// The repository (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub repo: Option<String>,
}

pub fn run(args: QueryArgs, printer: &Printer) -> Result<(), Failure> {
    let client = super::builds::client(args.repo)?;
    let query = bale_api::SearchQuery {
        file: args.file,
        library: args.library,
    };
    let found = super::serve::runtime()?
        .block_on(client.search(&query))
        .map_err(|e| Failure::user(e.into()))?;
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
