//! Times a warm sandbox start (`true` inside) against `bwrap --ro-bind <root> / true`,
//! and against bwrap with the same namespaces as a bale sandbox.
//!
//! Usage: `cargo run --release -p bale-sandbox --example warm_start [ROOT] [RUNS] [LAYER...]`
//! (ROOT, the lowest layer, defaults to `/`, the host stack; LAYERs go above
//! it, top first, e.g. a dependency layer). `BWRAP_ROOT` names the root bwrap
//! gets (default ROOT); give it a read-only overlay of the same layers to
//! compare over the same files.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bale_sandbox::{Sandbox, SandboxSpec};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let lowest = PathBuf::from(args.next().unwrap_or_else(|| "/".into()));
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(50);
    let mut layers: Vec<PathBuf> = args.map(PathBuf::from).collect();
    layers.push(lowest.clone());
    let root = std::env::var_os("BWRAP_ROOT")
        .map(PathBuf::from)
        .unwrap_or(lowest);
    let sandbox = Sandbox::new()?;
    let spec = SandboxSpec::new(layers, vec!["true".into()]);
    let (mut ours, mut theirs, mut isolated) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        let outcome = sandbox.run(&spec, &mut std::io::sink(), &mut std::io::stderr())?;
        ours.push(t.elapsed());
        assert!(outcome.success(), "{outcome:?}");
        let t = Instant::now();
        let status = Command::new("bwrap")
            .arg("--ro-bind")
            .arg(&root)
            .arg("/")
            .args(["--proc", "/proc", "--dev", "/dev", "true"])
            .status()?;
        theirs.push(t.elapsed());
        assert!(status.success());
        let t = Instant::now();
        let status = Command::new("bwrap")
            .arg("--ro-bind")
            .arg(&root)
            .arg("/")
            .args([
                "--proc",
                "/proc",
                "--dev",
                "/dev",
                "--tmpfs",
                "/tmp",
                "--unshare-pid",
                "--unshare-ipc",
                "--unshare-uts",
            ])
            .args([
                "--unshare-net",
                "--die-with-parent",
                "--new-session",
                "true",
            ])
            .status()?;
        isolated.push(t.elapsed());
        assert!(status.success());
    }
    let (a, b, c) = (median(ours), median(theirs), median(isolated));
    println!(
        "bale sandbox: {a:?}  bwrap: {b:?} (ratio {:.2})",
        a.as_secs_f64() / b.as_secs_f64()
    );
    println!(
        "bwrap with the same namespaces: {c:?} (ratio {:.2})",
        a.as_secs_f64() / c.as_secs_f64()
    );
    Ok(())
}
