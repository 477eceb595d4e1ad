//! How a failed command reports: each cause once, in the order the error
//! chain has them, and the exit code its error's type decides (1 for the
//! user's input or a refused operation, 2 when bale's own state fails).

use assert_cmd::Command;

fn bale(home: &std::path::Path, dir: &std::path::Path) -> Command {
    let mut command = Command::cargo_bin("bale").expect("the bale binary");
    command
        .env("BALE_HOME", home)
        .env("NO_COLOR", "1")
        .current_dir(dir);
    command
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails when a line of the report repeats what another line says: a
/// message that also prints its own cause shows that cause twice.
fn assert_each_cause_once(report: &str) {
    let causes: Vec<&str> = report
        .lines()
        .filter_map(|l| {
            l.strip_prefix("error: ")
                .or_else(|| l.strip_prefix("  caused by: "))
        })
        .collect();
    assert!(causes.len() > 1, "a report with causes: {report}");
    for (i, cause) in causes.iter().enumerate() {
        for (j, other) in causes.iter().enumerate() {
            assert!(
                i == j || !other.contains(cause),
                "`{cause}` is repeated in `{other}`:\n{report}"
            );
        }
    }
}

#[test]
fn a_corrupt_package_names_each_cause_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("junk.bale"), b"not a package").expect("writing junk");
    let output = bale(&dir.path().join("home"), dir.path())
        .args(["inspect", "junk.bale"])
        .output()
        .expect("running bale");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.starts_with("error: reading junk.bale\n"), "{text}");
    assert!(
        text.contains("\n  caused by: the archive's zstd stream is corrupt or truncated\n"),
        "{text}"
    );
    assert_each_cause_once(&text);
}

#[test]
fn a_package_argument_that_is_neither_file_nor_coordinate_is_the_users_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = bale(&dir.path().join("home"), dir.path())
        .args(["deploy", "shop", "x"])
        .output()
        .expect("running bale");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_eq!(
        text,
        "error: `x` is neither a package file nor a coordinate\n  caused by: `x` is not a \
         coordinate: expected `group:name:version`, e.g. `org.example:hello:2.10`\n"
    );
}

#[test]
fn a_missing_package_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = bale(&dir.path().join("home"), dir.path())
        .args(["install", "/nonexistent"])
        .output()
        .expect("running bale");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: /nonexistent: no such package file\n"
    );
}

#[test]
fn io_on_bales_own_state_is_an_internal_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    // $BALE_HOME is a file, so bale cannot read its apps directory.
    let home = dir.path().join("home");
    std::fs::write(&home, b"").expect("writing the file");
    let output = bale(&home, dir.path())
        .arg("apps")
        .output()
        .expect("running bale");
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.starts_with("error: cannot read or write ") && text.contains("/home/apps\n"),
        "{text}"
    );
    assert!(text.contains("\n  caused by: Not a directory"), "{text}");
    assert_each_cause_once(&text);
}

#[test]
fn json_failures_carry_the_whole_chain_on_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = bale(&dir.path().join("home"), dir.path())
        .args(["--json", "deploy", "shop", "x"])
        .output()
        .expect("running bale");
    assert_eq!(output.status.code(), Some(1));
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("a JSON failure on stdout");
    assert_eq!(value["error"]["code"], "failed");
    let message = value["error"]["message"].as_str().expect("a message");
    assert_eq!(
        message.matches("is not a coordinate").count(),
        1,
        "{message}"
    );
    assert!(message.starts_with("`x` is neither a package file nor a coordinate: "));
}
