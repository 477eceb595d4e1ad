//! The same content gives the same archive bytes, however the tree was made.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use common::*;

#[test]
fn trees_made_differently_with_the_same_content_pack_to_identical_bytes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Tree A: natural order, a hard link for the second copy.
    sample_tree(a.path());
    write_file(a.path(), "lib/data.bin", &vec![7u8; 100_000], 0o640);
    fs::hard_link(
        a.path().join("lib/data.bin"),
        a.path().join("lib/data-copy.bin"),
    )
    .unwrap();

    // Tree B: reverse creation order, other modes with the same x bits,
    // another owner, other mtimes, a plain copy instead of the hard link.
    write_file(b.path(), "lib/data-copy.bin", &vec![7u8; 100_000], 0o600);
    write_file(b.path(), "lib/data.bin", &vec![7u8; 100_000], 0o666);
    std::os::unix::fs::symlink("/usr/bin/python3", b.path().join("lib/python")).unwrap();
    std::os::unix::fs::symlink("../bin/hello", b.path().join("lib/hello-link")).unwrap();
    let long = format!("share/{}/{}", "d".repeat(80), "f".repeat(90));
    write_file(b.path(), &long, b"deep\n", 0o664);
    write_file(b.path(), "lib/empty", b"", 0o400);
    write_file(b.path(), "share/doc/README", b"read me\n", 0o644);
    write_file(b.path(), "etc/hello.conf", b"greeting = hi\n", 0o600);
    write_file(b.path(), "bin/hello", b"#!/bin/sh\necho hello\n", 0o700);
    fs::set_permissions(b.path().join("share"), fs::Permissions::from_mode(0o700)).unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for rel in ["bin/hello", "lib/data.bin", "etc/hello.conf"] {
        let file = fs::File::options()
            .write(true)
            .open(b.path().join(rel))
            .unwrap();
        file.set_modified(old).unwrap();
    }
    // Owners differ when the tests run as root (they do in CI).
    let _ = std::os::unix::fs::chown(b.path().join("bin/hello"), Some(1234), Some(4321));
    let _ = std::os::unix::fs::lchown(b.path().join("lib/python"), Some(1234), Some(4321));

    let packed_a = pack(a.path());
    let packed_b = pack(b.path());
    assert_eq!(sha256(&packed_a), sha256(&packed_b));
    assert_eq!(packed_a, packed_b);
}

#[test]
fn packing_twice_gives_the_same_bytes_and_reports_their_hash() {
    let a = tempfile::tempdir().unwrap();
    sample_tree(a.path());
    let tree = bale_archive::PackageTree::scan(a.path()).unwrap();
    let mut first = Vec::new();
    let written = tree.write(&meta(), MANIFEST, &mut first).unwrap();
    let mut second = Vec::new();
    tree.write(&meta(), MANIFEST, &mut second).unwrap();
    assert_eq!(first, second);
    assert_eq!(written.size, first.len() as u64);
    assert_eq!(written.sha256, sha256(&first));
}
