//! Pack then unpack gives the same tree.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bale_archive::{unpack, verify, Limits, UnpackOptions};
use common::*;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn unpacking_a_package_gives_back_its_files_modes_and_symlinks() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    let archive = pack(root.path());
    let dest = tempfile::tempdir().unwrap();
    let unpacked = unpack(&archive[..], dest.path(), &UnpackOptions::default()).unwrap();
    assert_eq!(unpacked.manifest_toml, MANIFEST);

    let mut expected = listing(root.path());
    expected.extend([
        ".bale/".into(),
        ".bale/index.json".into(),
        ".bale/manifest.toml".into(),
    ]);
    expected.sort();
    assert_eq!(listing(dest.path()), expected);
    for record in &unpacked.index.files {
        let got = dest.path().join(&record.path);
        match record.entry_type {
            bale_archive::EntryType::File => {
                assert_eq!(
                    fs::read(&got).unwrap(),
                    fs::read(root.path().join(&record.path)).unwrap()
                );
                assert_eq!(Some(mode(&got)), record.mode, "{}", record.path);
            }
            bale_archive::EntryType::Dir => assert_eq!(mode(&got), 0o755),
            bale_archive::EntryType::Symlink => {
                assert_eq!(
                    fs::read_link(&got).unwrap().to_str(),
                    record.target.as_deref()
                );
            }
        }
    }
    assert_eq!(mode(&dest.path().join("share/doc/README")), 0o644);
    assert_eq!(
        fs::read(dest.path().join(".bale/index.json")).unwrap(),
        unpacked.index.to_json().unwrap()
    );
}

#[test]
fn read_only_unpack_makes_files_0444_and_executables_0555() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    let archive = pack(root.path());
    let dest = tempfile::tempdir().unwrap();
    let opts = UnpackOptions {
        read_only: true,
        sync: true,
        ..UnpackOptions::default()
    };
    unpack(&archive[..], dest.path(), &opts).unwrap();
    assert_eq!(mode(&dest.path().join("bin/hello")), 0o555);
    assert_eq!(mode(&dest.path().join("etc/hello.conf")), 0o444);
    assert_eq!(mode(&dest.path().join(".bale/index.json")), 0o444);
    assert_eq!(mode(&dest.path().join("bin")), 0o755);
}

#[test]
fn verify_accepts_a_package_and_returns_its_index() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    let archive = pack(root.path());
    let index = verify(&archive[..], &Limits::default()).unwrap();
    assert!(index.files.iter().any(|f| f.path == "bin/hello"));
}

#[test]
fn unpack_refuses_a_destination_that_is_not_empty() {
    let root = tempfile::tempdir().unwrap();
    sample_tree(root.path());
    let archive = pack(root.path());
    let dest = tempfile::tempdir().unwrap();
    fs::write(dest.path().join("stray"), b"").unwrap();
    assert!(unpack(&archive[..], dest.path(), &UnpackOptions::default()).is_err());
}

#[test]
fn a_file_larger_than_the_chunks_round_trips() {
    let root = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..9_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    write_file(root.path(), "lib/big.bin", &big, 0o644);
    let archive = pack(root.path());
    let dest = tempfile::tempdir().unwrap();
    unpack(&archive[..], dest.path(), &UnpackOptions::default()).unwrap();
    assert_eq!(fs::read(dest.path().join("lib/big.bin")).unwrap(), big);
}
