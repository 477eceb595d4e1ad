//! A file that changes between hashing and writing stops the write, so no
//! archive's bytes disagree with its index.

mod common;

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
