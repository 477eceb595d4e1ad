//! The deployer's install runner: a real sandbox over the host's root, its
//! output in a file, the end of it in the error.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bale_layer::{FileLog, FileLogError, Install};
use bale_sandbox::{Sandbox, SandboxSpec};

fn host_spec() -> SandboxSpec {
    SandboxSpec::new(vec![PathBuf::from("/")], Vec::new())
}

#[test]
fn a_failed_run_keeps_both_streams_in_its_file_and_its_last_lines_in_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("layer.log");
    let sandbox = Sandbox::new().expect("a sandbox");
    let mut log = FileLog::new(&sandbox, &path, Instant::now() + Duration::from_secs(60));

    log.run(&host_spec(), "echo fine".into())
        .expect("a script that exits 0");
    assert_eq!(std::fs::read_to_string(&path).expect("log"), "fine\n");

    let error = log
        .run(
            &host_spec(),
            "echo to-stdout; echo to-stderr >&2; exit 3".into(),
        )
        .expect_err("a script that exits 3");
    let FileLogError::Failed {
        reason,
        log: written,
        last_lines,
    } = error
    else {
        panic!("expected a failed run, got {error:?}");
    };
    assert_eq!(reason, "exited with 3");
    assert_eq!(written, path);
    let text = std::fs::read_to_string(&path).expect("log");
    for line in ["to-stdout", "to-stderr"] {
        assert!(text.contains(line), "{line} in the file: {text}");
        assert!(
            last_lines.contains(line),
            "{line} in the error: {last_lines}"
        );
    }
    assert!(!text.contains("fine"), "each run starts the file afresh");
}

#[test]
fn a_run_past_its_deadline_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new().expect("a sandbox");
    let mut log = FileLog::new(&sandbox, &dir.path().join("layer.log"), Instant::now());
    match log.run(&host_spec(), "touch /tmp/should-not-run".into()) {
        Err(FileLogError::Failed { reason, .. }) => {
            assert!(reason.contains("not started"), "{reason}")
        }
        other => panic!("expected a run that did not start, got {other:?}"),
    }
}
