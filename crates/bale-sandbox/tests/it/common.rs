#![allow(dead_code)]

use bale_sandbox::{Outcome, Sandbox, SandboxError, SandboxSpec};

pub fn sandbox() -> Sandbox {
    Sandbox::new().expect("bubblewrap is installed")
}

pub fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

pub struct Ran {
    pub outcome: Outcome,
    pub stdout: String,
    pub stderr: String,
}

pub fn try_run(spec: &SandboxSpec) -> Result<Ran, SandboxError> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = sandbox().run(spec, &mut out, &mut err)?;
    Ok(Ran {
        outcome,
        stdout: String::from_utf8_lossy(&out).into(),
        stderr: String::from_utf8_lossy(&err).into(),
    })
}

pub fn run(spec: &SandboxSpec) -> Ran {
    try_run(spec).expect("the sandbox starts")
}

/// Host processes whose command line contains `marker`.
pub fn host_processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if !entry
            .file_name()
            .to_string_lossy()
            .chars()
            .all(|c| c.is_ascii_digit())
        {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(format!(
                    "{}: {cmdline}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    found
}

pub use bale_testkit::is_root;
