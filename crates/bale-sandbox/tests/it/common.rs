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

pub use bale_testkit::is_root;
