//! Writing a package through `WriteBehind` keeps every byte.

use crate::common;

use std::fs::File;
use std::io::{BufWriter, Write};

use bale_archive::{PackageTree, WriteBehind};
use common::*;

#[test]
fn a_package_written_behind_is_the_same_bytes_as_in_memory() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    // Incompressible, so the archive spans several writeback windows.
    write_file(
        root.path(),
        "share/noise.bin",
        &noise(20 << 20, 0x2545f4914f6cdd1d),
        0o644,
    );
    let tree = PackageTree::scan(root.path()).unwrap();

    let out_dir = tempfile::tempdir().unwrap();
    let path = out_dir.path().join("hello-1.0.0.bale");
    let mut out = BufWriter::new(WriteBehind::new(File::create(&path).unwrap()));
    let written = tree.write(&meta(), MANIFEST, &mut out).unwrap();
    out.flush().unwrap();
    let file = out.into_inner().unwrap().into_inner();
    file.sync_all().unwrap();

    let on_disk = std::fs::read(&path).unwrap();
    assert!(on_disk.len() > 16 << 20);
    assert_eq!(written.size, on_disk.len() as u64);
    assert_eq!(written.sha256, sha256(&on_disk));
    let mut in_memory = Vec::new();
    tree.write(&meta(), MANIFEST, &mut in_memory).unwrap();
    assert_eq!(on_disk, in_memory);
}

/// Accepts `room` bytes, then fails every write as a full disk would.
struct FillsUp {
    room: usize,
}

impl Write for FillsUp {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::from_raw_os_error(28));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_output_stops_the_write_with_the_outputs_own_error() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    write_file(
        root.path(),
        "share/noise.bin",
        &noise(8 << 20, 0x9e3779b97f4a7c15),
        0o644,
    );
    let tree = PackageTree::scan(root.path()).unwrap();

    let err = tree
        .write(&meta(), MANIFEST, FillsUp { room: 1 << 20 })
        .unwrap_err();
    match err {
        bale_archive::ArchiveError::Output(e) => assert_eq!(e.raw_os_error(), Some(28), "{e}"),
        other => panic!("expected the output's error, got {other:?}"),
    }
}
