//! A process killed with SIGKILL while it writes an object to local storage
//! leaves no file in the tree: no staging file that a static mirror would
//! serve (found by `benches/soak-repo.sh`, which saw `<key>#1` left behind).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bale_testkit::ProcessGuard;

const DIR_VAR: &str = "BALE_REPO_TEST_WRITER_DIR";
const KEY: &str = "org/example/big/1.0/big-1.0.bale";
/// Large enough that writing it takes a while, small on disk: the source is sparse.
const SOURCE_BYTES: u64 = 2 << 30;

/// The writer of `a_process_killed_while_writing_an_object_leaves_no_file_in_the_tree`.
#[test]
#[ignore = "started as a child process by the killed-write test"]
fn child_writer() {
    if !bale_testkit::in_child_test() {
        return;
    }
    let dir = PathBuf::from(std::env::var(DIR_VAR).unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let storage = bale_repo::Storage::local(&dir.join("repo")).unwrap();
        storage.put_file(KEY, &dir.join("source")).await.unwrap();
    });
}

/// Bytes the process has written so far (`wchar` of /proc/PID/io).
fn written_by(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("wchar: ").map(str::to_owned))
        })
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn a_process_killed_while_writing_an_object_leaves_no_file_in_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::File::create(dir.path().join("source"))
        .unwrap()
        .set_len(SOURCE_BYTES)
        .unwrap();
    let child = bale_testkit::child_test("killed_write::child_writer")
        .env(DIR_VAR, dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = ProcessGuard::new(child);
    let pid = child.id();
    // Killed well into the object, long before its end.
    bale_testkit::wait_until(Duration::from_secs(120), "the writer to be writing", || {
        (written_by(pid) >= 64 << 20).then_some(())
    });
    child.child().kill().unwrap();
    let status = child.child().wait().unwrap();
    assert!(
        status.code().is_none(),
        "the writer was killed, not finished: {status}"
    );
    assert_eq!(
        files_under(&dir.path().join("repo")),
        Vec::<PathBuf>::new(),
        "nothing of the interrupted write is in the tree"
    );
}
