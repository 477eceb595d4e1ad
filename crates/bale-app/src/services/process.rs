//! A service's processes: its own session and process group, what `/proc`
//! shows of them (whether the group is alive, what a sandbox keeper runs
//! inside its sandbox), and signals to stop them.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};

/// Makes `command` start a session of its own, so its whole tree is one
/// process group that can be signalled at once.
pub(crate) fn in_new_session(command: &mut Command) {
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid()
                .map(|_| ())
                .map_err(io::Error::from)
        });
    }
}

/// Stops the group `pid`: SIGTERM (to the sandbox's processes for a
/// keeper, `in_stack`), SIGKILL to the group after `timeout`. Returns whether
/// it was asked to stop.
pub(super) fn terminate(pid: i32, in_stack: bool, timeout: Duration) -> bool {
    let Some(group) = Pid::from_raw(pid) else {
        return false;
    };
    let asked = if in_stack && group_alive(pid) {
        for inner in sandboxed_processes(pid) {
            if let Some(inner) = Pid::from_raw(inner) {
                let _ = rustix::process::kill_process(inner, Signal::TERM);
            }
        }
        true
    } else {
        kill_process_group(group, Signal::TERM).is_ok()
    };
    if asked {
        let deadline = Instant::now() + timeout;
        while group_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(25));
        }
        if group_alive(pid) {
            let _ = kill_process_group(group, Signal::KILL);
            let deadline = Instant::now() + timeout;
            while group_alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    asked
}

/// One process as `/proc/<pid>/stat` shows it.
struct ProcessEntry {
    pid: i32,
    ppid: i32,
    session: i32,
    command: String,
}

/// Every process of the machine that this process may see.
fn processes() -> Vec<ProcessEntry> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let command = stat.get(open + 1..close)?.to_owned();
            // After the name: state, ppid, pgrp, session.
            let mut fields = stat.get(close + 1..)?.split_whitespace();
            let ppid = fields.nth(1)?.parse().ok()?;
            let session = fields.nth(1)?.parse().ok()?;
            Some(ProcessEntry {
                pid,
                ppid,
                session,
                command,
            })
        })
        .collect()
}

/// The processes a sandbox keeper `keeper` runs inside its sandbox: its
/// descendants outside its own session, bubblewrap's own processes left out.
fn sandboxed_processes(keeper: i32) -> Vec<i32> {
    let all = processes();
    let mut tree = vec![keeper];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(all.iter().filter(|p| p.ppid == parent).map(|p| p.pid));
        i += 1;
    }
    all.iter()
        .filter(|p| tree.contains(&p.pid) && p.session != keeper && p.command != "bwrap")
        .map(|p| p.pid)
        .collect()
}

/// Whether the process group `pid` has a member that is not a zombie.
///
/// Zombies count as dead: where nothing reaps orphans (a container whose
/// pid 1 does not wait), a stopped service would otherwise look alive forever.
pub(super) fn group_alive(pid: i32) -> bool {
    if Pid::from_raw(pid).is_none_or(|p| test_kill_process_group(p).is_err()) {
        return false;
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return false;
        };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // After the command name in parentheses: state, ppid, pgrp.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        pgrp == Some(pid) && state != Some("Z")
    })
}
