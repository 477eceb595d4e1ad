//! `bale query --file PATH | --library SONAME`: which published packages
//! ship a file, or which have ELF files that need a library.

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
    let found = super::serve::runtime()?
        .block_on(client.search(args.file.as_deref(), args.library.as_deref()))
        .map_err(|e| Failure::user(e.into()))?;
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
