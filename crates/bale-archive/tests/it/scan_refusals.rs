//! What the writer refuses to pack.

use crate::common;

use bale_archive::{ArchiveError, PackageTree};
use common::*;

#[test]
fn a_fifo_in_the_tree_is_refused_naming_it() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    let fifo = root.path().join("lib/pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let err = PackageTree::scan(root.path()).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::UnsupportedFileType { kind: "fifo", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("lib/pipe"), "{err}");
}

#[test]
fn a_socket_in_the_tree_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(root.path().join("sock")).unwrap();
    let err = PackageTree::scan(root.path()).unwrap_err();
    assert!(
        matches!(
            err,
            ArchiveError::UnsupportedFileType { kind: "socket", .. }
        ),
        "{err}"
    );
}

#[test]
fn a_bale_directory_in_the_root_is_refused_as_reserved() {
    let root = tempfile::tempdir().unwrap();
    write_file(root.path(), ".bale/index.json", b"{}", 0o644);
    let err = PackageTree::scan(root.path()).unwrap_err();
    assert!(matches!(err, ArchiveError::ReservedPath { .. }), "{err}");
}

#[test]
fn a_relative_symlink_out_of_the_root_is_refused_when_packing() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("lib")).unwrap();
    std::os::unix::fs::symlink("../../etc/passwd", root.path().join("lib/passwd")).unwrap();
    let err = PackageTree::scan(root.path()).unwrap_err();
    assert!(matches!(err, ArchiveError::SymlinkOutside { .. }), "{err}");
}
