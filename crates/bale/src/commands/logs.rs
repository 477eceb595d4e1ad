//! `bale logs APP [SERVICE] [-f]`: the end of each service's log, and what follows with -f.

use std::time::Duration;

use bale_app::LogFollower;

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
    let mut followers = Vec::new();
    for (service, path) in &logs {
        let (follower, text) = LogFollower::start(path);
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(args.lines);
        for line in &lines[start..] {
            printer.line(prefixed(several, service, line));
        }
        followers.push((service, follower));
    }
    if !args.follow {
        return Ok(());
    }
    loop {
        for (service, follower) in &mut followers {
            for line in follower.new_lines().internal()? {
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
