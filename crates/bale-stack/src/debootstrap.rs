//! Making a Debian base system with debootstrap, and reading its packages.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::StackError;

/// What debootstrap is asked to make.
pub(crate) struct Bootstrap<'a> {
    pub suite: &'a str,
    pub variant: &'a str,
    pub components: &'a [String],
    pub include: &'a [String],
    pub mirror: &'a str,
    /// Another architecture than the machine's (`--arch`); `None` for the machine's own.
    pub arch: Option<&'a str>,
    /// Whether the architecture's programs cannot run here even emulated, so
    /// debootstrap stops after unpacking (`--foreign`) and the second stage
    /// runs in a chroot.
    pub foreign: bool,
}

fn tool(name: &'static str, package: &'static str) -> Result<Command, StackError> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    let mut dirs: Vec<_> = std::env::split_paths(&path).collect();
    // debootstrap lives in sbin, which an ordinary PATH may lack.
    dirs.extend(["/usr/sbin", "/sbin"].map(Into::into));
    let found = dirs
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(StackError::ToolMissing {
            tool: name,
            package,
        })?;
    Ok(Command::new(found))
}

impl Bootstrap<'_> {
    /// Runs debootstrap into `target` (an empty or absent directory), passing
    /// each line of its output to `progress`.
    pub(crate) fn run(
        &self,
        target: &Path,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), StackError> {
        let mut cmd = tool("debootstrap", "debootstrap")?;
        if let Some(arch) = self.arch {
            cmd.arg(format!("--arch={arch}"));
        }
        if self.foreign {
            cmd.arg("--foreign");
        }
        cmd.arg(format!("--variant={}", self.variant))
            .arg(format!("--components={}", self.components.join(",")));
        if !self.include.is_empty() {
            cmd.arg(format!("--include={}", self.include.join(",")));
        }
        cmd.arg(self.suite).arg(target).arg(self.mirror);
        run_logged(cmd, "debootstrap", target, progress)?;
        if self.foreign {
            progress("running debootstrap's second stage in the new root");
            let mut second = tool("chroot", "coreutils")?;
            second
                .arg(target)
                .args(["/debootstrap/debootstrap", "--second-stage"]);
            run_logged(second, "chroot", target, progress)?;
        }
        Ok(())
    }
}

/// Runs `cmd`, passing each line of its output to `progress`; on failure the
/// error holds its last lines and the end of debootstrap's own log in `target`.
fn run_logged(
    mut cmd: Command,
    name: &'static str,
    target: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), StackError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|source| StackError::Spawn { tool: name, source })?;
    let stderr = child.stderr.take();
    let err_lines = std::thread::spawn(move || {
        stderr
            .map(|s| {
                BufReader::new(s)
                    .lines()
                    .map_while(Result::ok)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    });
    let mut last = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            progress(&line);
            last.push(line);
            if last.len() > 20 {
                last.remove(0);
            }
        }
    }
    let status = child
        .wait()
        .map_err(|source| StackError::Spawn { tool: name, source })?;
    let errs = err_lines.join().unwrap_or_default();
    if !status.success() {
        // debootstrap keeps its own log inside the target.
        let log =
            std::fs::read_to_string(target.join("debootstrap/debootstrap.log")).unwrap_or_default();
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .take(10)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        last.extend(errs);
        last.extend(tail.into_iter().map(str::to_string));
        return Err(StackError::Debootstrap {
            status: status.to_string(),
            output: last.join("\n"),
        });
    }
    Ok(())
}

/// Copies an image tree, keeping owners, modes, links and device nodes.
pub(crate) fn copy_image(from: &Path, to: &Path) -> Result<(), StackError> {
    let out = Command::new("cp")
        .args(["-a", "--reflink=auto", "--"])
        .arg(from)
        .arg(to)
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| StackError::Spawn { tool: "cp", source })?;
    if !out.status.success() {
        return Err(StackError::Copy {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            message: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(())
}
