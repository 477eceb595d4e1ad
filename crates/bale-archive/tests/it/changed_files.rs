//! A file that changes between hashing and writing stops the write, so no
//! archive's bytes disagree with its index.

use crate::common;

use bale_archive::{ArchiveError, PackageTree};
use common::*;

#[test]
fn a_large_file_changed_after_scanning_stops_the_write() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    let large = vec![b'a'; 1 << 20];
    write_file(root.path(), "share/large.txt", &large, 0o644);
    let tree = PackageTree::scan(root.path()).unwrap();
    let mut longer = large.clone();
    longer.extend_from_slice(b"more\n");
    write_file(root.path(), "share/large.txt", &longer, 0o644);

    let mut archive = Vec::new();
    let err = tree.write(&meta(), MANIFEST, &mut archive).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::ChangedWhilePacking { path } if path == "share/large.txt"),
        "{err:?}"
    );
}

#[test]
fn a_small_file_changed_after_scanning_is_packed_as_it_was_hashed() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    write_file(root.path(), "etc/small.conf", b"before\n", 0o644);
    let tree = PackageTree::scan(root.path()).unwrap();
    write_file(root.path(), "etc/small.conf", b"after, and longer\n", 0o644);

    let mut archive = Vec::new();
    tree.write(&meta(), MANIFEST, &mut archive).unwrap();
    // The archive's bytes and its index agree: both are the content hashed.
    let index = bale_archive::verify(&archive[..], &bale_archive::Limits::default()).unwrap();
    let record = index
        .files
        .iter()
        .find(|f| f.path == "etc/small.conf")
        .unwrap();
    assert_eq!(record.sha256.as_deref(), Some(sha256(b"before\n").as_str()));
    let dest = tempfile::tempdir().unwrap();
    bale_archive::unpack(
        &archive[..],
        dest.path(),
        &bale_archive::UnpackOptions::default(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read(dest.path().join("etc/small.conf")).unwrap(),
        b"before\n"
    );
}
