//! One test of this test binary run again in a process of its own, for
//! what must not touch the other tests: a changed environment, a SIGKILL.

use std::process::{Command, Stdio};

/// The command that runs exactly the ignored test `name` (its path in the
/// binary, like `crash::child_server`) of the running test binary.
pub fn child_test(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the path of the running test binary");
    let mut command = Command::new(exe);
    command
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_TEST, name);
    command
}

/// Set to the test's name in a child test's environment.
const CHILD_TEST: &str = "BALE_TESTKIT_CHILD_TEST";

/// Whether this process was started by [`child_test`]: a child test returns
/// at once otherwise (as when all ignored tests are run by hand).
pub fn in_child_test() -> bool {
    std::env::var_os(CHILD_TEST).is_some()
}

/// Runs the ignored test `name` with the extra environment `envs` and
/// fails unless it ran and passed.
pub fn run_child_test(name: &str, envs: &[(&str, &str)]) {
    let out = child_test(name)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("running the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the child test {name} did not pass:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
