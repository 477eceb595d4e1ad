//! Running another architecture's programs on this machine: qemu's user
//! emulators registered with binfmt_misc, with the F (fix-binary) flag so the
//! kernel holds the emulator open and it works inside chroots and the
//! sandbox's namespaces, where `/usr/bin/qemu-*-static` is not visible.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::arch::{machine_arch, qemu_name};
use crate::StackError;

/// Where the kernel's binfmt_misc file system is mounted.
const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// Registrations bale writes itself when `update-binfmts` leaves the entry
/// missing: qemu-user-static's own magic and mask, with the F flag.
const REGISTRATIONS: &[(&str, &str)] = &[(
    "aarch64",
    r":qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F",
)];

/// How programs of an architecture run on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// It is the machine's own architecture.
    Native,
    /// Through binfmt_misc (an emulator, or a compatible CPU mode), so
    /// debootstrap can run its second stage in the same pass.
    Runs,
    /// Not even with an emulator registered: debootstrap needs two stages.
    Foreign,
}

/// The state of one binfmt_misc entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    enabled: bool,
    fix_binary: bool,
}

fn read_entry(dir: &Path, qemu: &str) -> Option<Entry> {
    let text = std::fs::read_to_string(dir.join(format!("qemu-{qemu}"))).ok()?;
    Some(Entry {
        enabled: text.lines().next() == Some("enabled"),
        fix_binary: text
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .is_some_and(|f| f.contains('F')),
    })
}

fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Whether `arch-test` says programs of `arch` run here; `None` without arch-test.
fn arch_test(arch: &str) -> Option<bool> {
    let tool = find_tool("arch-test")?;
    Command::new(tool)
        .arg(arch)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .map(|s| s.success())
}

fn binfmt_error(arch: &str, qemu: &str, message: String) -> StackError {
    StackError::Binfmt {
        arch: arch.to_string(),
        entry: format!("{BINFMT_DIR}/qemu-{qemu}"),
        message,
    }
}

/// Makes programs of `arch` runnable on this machine where it can — checks
/// that qemu-user-static and binfmt-support are installed, mounts
/// binfmt_misc, enables the emulator's entry — and says how they run.
/// Needs root for everything but the checks.
pub fn ensure_emulation(arch: &str) -> Result<Execution, StackError> {
    if arch == machine_arch() {
        return Ok(Execution::Native);
    }
    let qemu = qemu_name(arch)?;
    let dir = Path::new(BINFMT_DIR);
    let ready = |e: &Option<Entry>| e.as_ref().is_some_and(|e| e.enabled && e.fix_binary);
    let mut entry = read_entry(dir, qemu);
    // A CPU that runs the architecture itself (i386 on amd64) needs no entry.
    if entry.is_none() && arch_test(arch) == Some(true) {
        return Ok(Execution::Runs);
    }
    if !ready(&entry) {
        let emulator = Path::new("/usr/bin").join(format!("qemu-{qemu}-static"));
        if !emulator.is_file() || find_tool("update-binfmts").is_none() {
            return Err(StackError::EmulationMissing {
                arch: arch.to_string(),
                machine: machine_arch(),
            });
        }
        if !dir.join("status").exists() {
            mount_binfmt_misc(dir).map_err(|m| binfmt_error(arch, qemu, m))?;
        }
        if entry.is_none() {
            // Entries qemu-user-static installed but the kernel never saw.
            let _ = update_binfmts("--import", qemu);
        }
        let _ = update_binfmts("--enable", qemu);
        entry = read_entry(dir, qemu);
        if entry.is_none() {
            if let Some((_, line)) = REGISTRATIONS.iter().find(|(q, _)| *q == qemu) {
                std::fs::write(dir.join("register"), line).map_err(|e| {
                    binfmt_error(
                        arch,
                        qemu,
                        format!("the kernel refused the registration ({e})"),
                    )
                })?;
                entry = read_entry(dir, qemu);
            }
        }
    }
    match entry {
        None => {
            return Err(binfmt_error(
                arch,
                qemu,
                format!("it is not registered and registering failed: run `update-binfmts --enable qemu-{qemu}` as root and check the kernel has binfmt_misc"),
            ))
        }
        Some(Entry { enabled: false, .. }) => {
            return Err(binfmt_error(
                arch,
                qemu,
                format!("it is disabled: run `update-binfmts --enable qemu-{qemu}` as root"),
            ))
        }
        Some(Entry {
            fix_binary: false, ..
        }) => {
            return Err(binfmt_error(
                arch,
                qemu,
                format!("it lacks the F (fix-binary) flag, so the emulator is not found inside a chroot or sandbox: remove it (`echo -1 > {BINFMT_DIR}/qemu-{qemu}`) and run `update-binfmts --enable qemu-{qemu}` with qemu-user-static's entry"),
            ))
        }
        Some(_) => {}
    }
    match arch_test(arch) {
        None => Err(StackError::ToolMissing {
            tool: "arch-test",
            package: "arch-test",
        }),
        Some(true) => Ok(Execution::Runs),
        Some(false) => Ok(Execution::Foreign),
    }
}

fn update_binfmts(verb: &str, qemu: &str) -> std::io::Result<bool> {
    let tool = find_tool("update-binfmts").unwrap_or_else(|| "update-binfmts".into());
    Command::new(tool)
        .arg(verb)
        .arg(format!("qemu-{qemu}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
}

fn mount_binfmt_misc(dir: &Path) -> Result<(), String> {
    let out = Command::new("mount")
        .args(["-t", "binfmt_misc", "binfmt_misc"])
        .arg(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run mount ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "binfmt_misc is not mounted and mounting it failed ({}): run `mount -t binfmt_misc binfmt_misc {}` as root",
            String::from_utf8_lossy(&out.stderr).trim(),
            dir.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_ready_only_enabled_and_with_the_fix_binary_flag() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| std::fs::write(dir.path().join("qemu-aarch64"), text).unwrap();
        write(
            "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\n",
        );
        assert_eq!(
            read_entry(dir.path(), "aarch64"),
            Some(Entry {
                enabled: true,
                fix_binary: true
            })
        );
        write("disabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: P\n");
        assert_eq!(
            read_entry(dir.path(), "aarch64"),
            Some(Entry {
                enabled: false,
                fix_binary: false
            })
        );
        assert_eq!(read_entry(dir.path(), "riscv64"), None);
    }
}
