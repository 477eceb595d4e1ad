//! `bale logs APP [SERVICE] [-f]`: the end of each service's log, and what follows with -f.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::LogsArgs;
use crate::exit::{Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: LogsArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    if let Some(id) = args.build {
        return super::builds::show_log(machine, args.server, id, args.follow, printer);
    }
    let app = args.app.as_deref().unwrap_or_default();
    let logs = bale_app::log_files(machine.home()?, app, args.service.as_deref())?;
    let several = logs.len() > 1;
    let mut offsets = Vec::new();
    for (service, path) in &logs {
        let text = std::fs::read(path).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(args.lines);
        for line in &lines[start..] {
            printer.line(prefixed(several, service, line));
        }
        offsets.push(std::fs::metadata(path).map_or(0, |m| m.len()));
    }
    if !args.follow {
        return Ok(());
    }
    loop {
        for ((service, path), offset) in logs.iter().zip(offsets.iter_mut()) {
            for line in new_lines(path, offset).internal()? {
                printer.line(prefixed(several, service, &line));
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn prefixed(several: bool, service: &str, line: &str) -> String {
    if several {
        format!("{service} | {line}")
    } else {
        line.to_owned()
    }
}

/// The complete lines written to `path` after `offset`, moving `offset` past them.
fn new_lines(path: &PathBuf, offset: &mut u64) -> std::io::Result<Vec<String>> {
    let Ok(mut file) = File::open(path) else {
        return Ok(Vec::new());
    };
    let len = file.metadata()?.len();
    if len < *offset {
        // The log was truncated or replaced: start from its beginning.
        *offset = 0;
    }
    file.seek(SeekFrom::Start(*offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
        return Ok(Vec::new());
    };
    *offset += end as u64 + 1;
    Ok(String::from_utf8_lossy(&bytes[..end])
        .lines()
        .map(str::to_owned)
        .collect())
}
