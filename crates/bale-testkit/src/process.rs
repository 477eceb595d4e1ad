//! Child processes that cannot outlive their test.

use std::process::{Child, Command};

/// A child process killed (SIGKILL) and reaped when dropped, however the
/// test ends; with [`ProcessGuard::spawn_group`], its whole process group.
pub struct ProcessGuard {
    child: Child,
    group: bool,
}

impl ProcessGuard {
    /// Guards an already started child; only the child itself is killed.
    pub fn new(child: Child) -> ProcessGuard {
        ProcessGuard {
            child,
            group: false,
        }
    }

    /// Spawns `command`, panicking with `what` when it cannot start.
    pub fn spawn(command: &mut Command, what: &str) -> ProcessGuard {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        ProcessGuard::new(child)
    }

    /// Spawns `command` in a process group of its own and kills the whole
    /// group when dropped, so what it started goes too.
    pub fn spawn_group(command: &mut Command, what: &str) -> ProcessGuard {
        use std::os::unix::process::CommandExt;
        let mut guard = ProcessGuard::spawn(command.process_group(0), what);
        guard.group = true;
        guard
    }

    /// The child's process id (and, for a group, the group's id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child, to wait for it or to signal it.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        if self.group {
            if let Ok(pgid) = i32::try_from(self.child.id()) {
                // SAFETY: kill has no memory preconditions; a negative pid names the group.
                unsafe { libc::kill(-pgid, libc::SIGKILL) };
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Live (not zombie) processes whose process group is `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return members;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The fields after the command name (which may hold spaces) start after the last ')'.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let live = !matches!(fields.first(), Some(&"Z") | Some(&"X"));
        if live && fields.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            members.push(pid);
        }
    }
    members
}

/// A process on this machine, as /proc shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostProcess {
    /// Its process id.
    pub pid: u32,
    /// Its command line, arguments separated by spaces.
    pub cmdline: String,
}

/// The processes on this machine whose command line contains `marker`
/// (a test's unusual argument, like `sleep 31337.42`).
pub fn processes_with(marker: &str) -> Vec<HostProcess> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(HostProcess {
                    pid,
                    cmdline: cmdline.trim_end().to_owned(),
                });
            }
        }
    }
    found
}
