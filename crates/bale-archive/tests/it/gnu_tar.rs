//! The real GNU tar lists packages, in the order, modes and owners docs/package.md gives.

use crate::common;

use std::process::Command;

use common::*;

fn tar_list(archive: &[u8], verbose: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello-1.0.0.bale");
    std::fs::write(&file, archive).unwrap();
    let flags = if verbose { "--zstd -tvf" } else { "--zstd -tf" };
    let mut command = Command::new("tar");
    command
        .args(flags.split(' '))
        .arg(&file)
        .env("TZ", "UTC")
        .env("LC_ALL", "C");
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "tar failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "tar warned: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn gnu_tar_lists_the_bale_entries_first_then_every_path_sorted() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    let listing = tar_list(&pack(root.path()), false);
    let long = format!("share/{}/{}", "d".repeat(80), "f".repeat(90));
    let expected = [
        ".bale/",
        ".bale/index.json",
        ".bale/manifest.toml",
        "bin/",
        "bin/hello",
        "etc/",
        "etc/hello.conf",
        "lib/",
        "lib/empty",
        "lib/hello-link",
        "lib/python",
        "share/",
        &format!("share/{}/", "d".repeat(80)),
        &long,
        "share/doc/",
        "share/doc/README",
    ];
    assert_eq!(listing.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn gnu_tar_shows_normalised_modes_root_owner_and_the_source_date() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    let listing = tar_list(&pack(root.path()), true);
    let line = |name: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(name) || l.contains(&format!(" {name} -> ")))
            .unwrap_or_else(|| panic!("{name} not listed in\n{listing}"))
            .to_string()
    };
    assert!(
        line("bin/").starts_with("drwxr-xr-x 0/0 "),
        "{}",
        line("bin/")
    );
    assert!(
        line("bin/hello").starts_with("-rwxr-xr-x 0/0 "),
        "{}",
        line("bin/hello")
    );
    // 0600 on disk becomes 0644.
    assert!(
        line("share/doc/README").starts_with("-rw-r--r-- 0/0 "),
        "{}",
        line("share/doc/README")
    );
    assert!(line("lib/hello-link").starts_with("lrwxrwxrwx 0/0 "));
    assert!(line("lib/hello-link").ends_with("lib/hello-link -> ../bin/hello"));
    for l in listing.lines() {
        assert!(
            l.contains(" 2023-11-14 22:13 "),
            "mtime is not SOURCE_DATE_EPOCH: {l}"
        );
    }
}
