//! `bale inspect FILE.bale`: what a package holds.

use std::fs::File;

use anyhow::Context;
use bale_archive::{EntryType, Index};

use crate::cli::InspectArgs;
use crate::exit::Failure;
use crate::printer::Printer;

pub fn run(args: InspectArgs, printer: &Printer) -> Result<(), Failure> {
    let file =
        File::open(&args.file).with_context(|| format!("opening {}", args.file.display()))?;
    let archive_size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let (index, _manifest) = bale_archive::read_index(file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    if printer.json() {
        return printer.print_json(&index);
    }
    print_index(&index, archive_size, printer);
    Ok(())
}

fn print_index(index: &Index, archive_size: u64, printer: &Printer) {
    let none = || "-".to_owned();
    printer.line(format!("coordinate    {}", index.coordinate));
    let legacy = if index.arch.is_none() {
        " (not recorded: a package from before architectures)"
    } else {
        ""
    };
    printer.line(format!("arch          {}{legacy}", index.arch()));
    let digest = if index.stack.digest.is_empty() {
        String::new()
    } else {
        format!(" ({})", index.stack.digest)
    };
    printer.line(format!("stack         {}{digest}", index.stack.name));
    let join = |v: &[String]| if v.is_empty() { none() } else { v.join(", ") };
    printer.line(format!(
        "runtime deps  {}",
        join(&index.dependencies.runtime)
    ));
    printer.line(format!(
        "detected deps {}",
        join(&index.dependencies.detected)
    ));
    if let Some(commit) = &index.source.commit {
        printer.line(format!(
            "source        {} @ {commit}",
            index.source.git.as_deref().unwrap_or("-")
        ));
    }
    let files = index
        .files
        .iter()
        .filter(|f| f.entry_type != EntryType::Dir)
        .count();
    printer.line(format!(
        "size          {} installed, {} packed, {files} files",
        human_bytes(index.installed_size),
        human_bytes(archive_size)
    ));
    printer.line("");
    printer.line(format!(
        "{:<15} {:>10}  {:<10}  {:<8}  path",
        "class", "size", "linkage", "machine"
    ));
    for record in &index.files {
        let (class, size) = match record.entry_type {
            EntryType::Dir => continue,
            EntryType::Symlink => ("symlink".to_owned(), none()),
            EntryType::File => (
                record.class.map(|c| serde_plain(&c)).unwrap_or_else(none),
                record.size.map(human_bytes).unwrap_or_else(none),
            ),
        };
        let linkage = record
            .elf
            .as_ref()
            .map(|e| serde_plain(&e.linkage))
            .unwrap_or_default();
        let machine = record
            .elf
            .as_ref()
            .and_then(|e| e.machine.clone())
            .unwrap_or_default();
        let mut path = record.path.clone();
        if let Some(target) = &record.target {
            path = format!("{path} -> {target}");
        }
        if let Some(elf) = &record.elf {
            if !elf.needed.is_empty() {
                path = format!("{path}  [needs {}]", elf.needed.join(" "));
            }
        }
        printer.line(format!(
            "{class:<15} {size:>10}  {linkage:<10}  {machine:<8}  {path}"
        ));
    }
}

/// A serde enum's name as it appears in JSON.
fn serde_plain<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Bytes as a short human figure: `512 B`, `1.4 KiB`, `3.2 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
