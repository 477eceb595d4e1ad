//! The crate graph in docs/architecture.md is current and every dependency
//! between the workspace's crates runs down the layer table of
//! `scripts/crate-graph`.

use std::path::Path;
use std::process::Command;

#[test]
fn the_crate_graph_is_current_and_every_edge_runs_down_the_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new("python3")
        .arg(root.join("scripts/crate-graph"))
        .arg("--check")
        .env("CARGO", env!("CARGO"))
        .current_dir(&root)
        .output()
        .expect("python3 runs scripts/crate-graph");
    assert!(
        output.status.success(),
        "scripts/crate-graph --check failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
