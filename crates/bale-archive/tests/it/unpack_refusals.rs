//! Every refusal of the reader, on hand-built malicious archives. Each test
//! checks the error names the entry, that `verify` refuses the same way, and
//! that nothing outside the destination changed.

use crate::common;

use std::fs;
use std::path::Path;

use bale_archive::{unpack, verify, ArchiveError, Index, Limits, UnpackOptions};
use common::*;

const A: &[u8] = b"A\n";

/// The honest part: `bin/` holding `bin/a`.
fn base_index() -> Index {
    index_of(vec![dir_record("bin"), file_record("bin/a", A)])
}

fn base(tar: &mut RawTar, index: &Index) {
    tar.head(index).dir("bin").file("bin/a", 0o644, A);
}

/// Unpacks `archive` next to a canary directory; returns the error after
/// checking the canary is untouched and nothing appeared beside `dest`.
fn refuse(archive: &[u8], limits: Limits) -> ArchiveError {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("dest");
    let canary = tmp.path().join("canary");
    fs::create_dir(&dest).unwrap();
    fs::create_dir(&canary).unwrap();
    fs::write(canary.join("keep"), b"keep").unwrap();
    let opts = UnpackOptions {
        limits,
        ..UnpackOptions::default()
    };
    let err = unpack(archive, &dest, &opts).expect_err("the archive was accepted");
    let outside: Vec<String> = listing(tmp.path())
        .into_iter()
        .filter(|p| p == "dest/" || !p.starts_with("dest/"))
        .collect();
    assert_eq!(
        outside,
        ["canary/", "canary/keep", "dest/"],
        "something was written outside dest"
    );
    assert_eq!(fs::read(canary.join("keep")).unwrap(), b"keep");
    let verified = verify(archive, &limits).expect_err("verify accepted the archive");
    assert_eq!(
        std::mem::discriminant(&verified),
        std::mem::discriminant(&err),
        "{verified} vs {err}"
    );
    err
}

fn refuse_default(archive: &[u8]) -> ArchiveError {
    refuse(archive, Limits::default())
}

fn assert_names(err: &ArchiveError, entry: &str) {
    assert!(
        err.to_string().contains(entry),
        "the error does not name {entry}: {err}"
    );
}

#[test]
fn a_dot_dot_component_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.file("bin/../../canary/evil", 0o644, b"x").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::ParentComponent { .. }), "{err}");
    assert_names(&err, "bin/../../canary/evil");
}

#[test]
fn a_dot_dot_path_listed_in_the_index_is_refused_before_any_entry() {
    let mut index = base_index();
    index.files.insert(0, file_record("../evil", b"x"));
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.file("../evil", 0o644, b"x").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::ParentComponent { .. }), "{err}");
}

#[test]
fn an_absolute_path_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.file("/tmp/bale-absolute-evil", 0o644, b"x").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::AbsolutePath { .. }), "{err}");
    assert!(!Path::new("/tmp/bale-absolute-evil").exists());
}

#[test]
fn a_symlink_pointing_out_of_the_root_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.symlink("bin/out", "../../canary").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::SymlinkOutside { .. }), "{err}");
    assert_names(&err, "bin/out");
}

#[test]
fn an_entry_through_a_symlink_is_refused() {
    // An absolute symlink is allowed (it names a file of the stack), but
    // nothing may be written through it.
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let target = outside.to_str().unwrap();
    let mut index = base_index();
    index.files.push(symlink_record("link", target));
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.symlink("link", target)
        .file("link/evil", 0o644, b"x")
        .end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(
        matches!(&err, ArchiveError::ThroughSymlink { symlink, .. } if symlink == "link"),
        "{err}"
    );
    assert_names(&err, "link/evil");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn an_index_listing_a_path_under_a_symlink_is_refused() {
    let mut index = base_index();
    index.files.push(symlink_record("link", "bin"));
    index.files.push(file_record("link/evil", b"x"));
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.symlink("link", "bin")
        .file("link/evil", 0o644, b"x")
        .end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::ThroughSymlink { .. }), "{err}");
}

#[test]
fn a_hard_link_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.header("bin/hard", b'1', 0o644, 0, "bin/a").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::HardLink { .. }), "{err}");
    assert_names(&err, "bin/hard");
}

#[test]
fn a_device_node_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.header("bin/null", b'3', 0o666, 0, "").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(
        matches!(&err, ArchiveError::SpecialEntry { kind, .. } if kind == "device node"),
        "{err}"
    );
    assert_names(&err, "bin/null");
}

#[test]
fn a_fifo_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.header("bin/pipe", b'6', 0o644, 0, "").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(
        matches!(&err, ArchiveError::SpecialEntry { kind, .. } if kind == "fifo"),
        "{err}"
    );
}

#[test]
fn a_setuid_bit_is_refused() {
    let index = index_of(vec![
        dir_record("bin"),
        file_record("bin/a", A),
        file_record("bin/su", b"x"),
    ]);
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.file("bin/su", 0o4755, b"x").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(
        matches!(err, ArchiveError::SpecialMode { mode: 0o4755, .. }),
        "{err}"
    );
    assert_names(&err, "bin/su");
}

#[test]
fn a_sticky_directory_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    tar.head(&index)
        .header("bin/", b'5', 0o1777, 0, "")
        .file("bin/a", 0o644, A)
        .end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::SpecialMode { .. }), "{err}");
}

#[test]
fn content_whose_hash_differs_from_the_index_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    tar.head(&index)
        .dir("bin")
        .file("bin/a", 0o644, b"B\n")
        .end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(
        matches!(&err, ArchiveError::IndexMismatch { what, .. } if what.contains("sha256")),
        "{err}"
    );
    assert_names(&err, "bin/a");
}

#[test]
fn content_whose_size_differs_from_the_index_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    tar.head(&index)
        .dir("bin")
        .file("bin/a", 0o644, b"A longer\n")
        .end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(
        matches!(&err, ArchiveError::IndexMismatch { what, .. } if what.contains("bytes")),
        "{err}"
    );
}

#[test]
fn a_mode_that_differs_from_the_index_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    tar.head(&index).dir("bin").file("bin/a", 0o755, A).end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(
        matches!(&err, ArchiveError::IndexMismatch { what, .. } if what.contains("mode")),
        "{err}"
    );
}

#[test]
fn a_type_that_differs_from_the_index_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    tar.head(&index).dir("bin").dir("bin/a").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::IndexMismatch { .. }), "{err}");
}

#[test]
fn a_file_missing_from_the_archive_is_refused() {
    let index = index_of(vec![
        dir_record("bin"),
        file_record("bin/a", A),
        file_record("bin/b", b"b"),
    ]);
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::MissingEntry { .. }), "{err}");
    assert_names(&err, "bin/b");
}

#[test]
fn a_file_missing_from_the_index_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.file("bin/extra", 0o644, b"x").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::ExtraEntry { .. }), "{err}");
    assert_names(&err, "bin/extra");
}

#[test]
fn an_entry_appearing_twice_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.file("bin/a", 0o644, A).end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::Duplicate { .. }), "{err}");
}

#[test]
fn an_entry_before_its_directory_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    tar.head(&index).file("bin/a", 0o644, A).dir("bin").end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::MissingParent { .. }), "{err}");
}

#[test]
fn a_truncated_zstd_stream_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.end();
    let archive = zstd(&tar.bytes);
    let err = refuse_default(&archive[..archive.len() - 10]);
    assert!(matches!(err, ArchiveError::Compression(_)), "{err}");
}

#[test]
fn a_corrupt_zstd_checksum_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.end();
    let mut archive = Vec::new();
    bale_archive::compress_with_workers(&tar.bytes[..], &mut archive, 1).unwrap();
    let last = archive.len() - 1;
    archive[last] ^= 0xff;
    let err = refuse_default(&archive);
    assert!(matches!(err, ArchiveError::Compression(_)), "{err}");
}

#[test]
fn bytes_that_are_not_zstd_are_refused() {
    let err = refuse_default(b"this is not a package at all, just text");
    assert!(matches!(err, ArchiveError::Compression(_)), "{err}");
}

#[test]
fn a_tar_cut_inside_a_file_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    let cut = tar.bytes.len() - 512 + 1;
    let err = refuse_default(&zstd(&tar.bytes[..cut]));
    assert!(matches!(err, ArchiveError::TruncatedTar(_)), "{err}");
}

#[test]
fn a_tar_without_its_end_marker_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::TruncatedTar(_)), "{err}");
}

#[test]
fn a_header_with_a_wrong_checksum_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.file("bin/b", 0o644, b"b").end();
    let at = tar.bytes.len() - 1024 - 1024 + 1;
    tar.bytes[at] ^= 1;
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::CorruptTar(_)), "{err}");
}

#[test]
fn an_archive_without_the_index_first_is_refused() {
    let mut tar = RawTar::default();
    tar.dir("bin").file("bin/a", 0o644, A).end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::MissingIndex(_)), "{err}");
}

#[test]
fn a_malformed_index_is_refused() {
    let mut tar = RawTar::default();
    tar.dir(".bale")
        .file(".bale/index.json", 0o644, b"{\"format\": 1, \"files\": [")
        .end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::Index(_)), "{err}");
}

#[test]
fn an_index_larger_than_the_limit_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.end();
    let limits = Limits {
        max_index_bytes: 64,
        ..Limits::default()
    };
    let err = refuse(&zstd(&tar.bytes), limits);
    assert!(matches!(err, ArchiveError::LimitExceeded { .. }), "{err}");
}

#[test]
fn more_entries_than_the_limit_are_refused() {
    let mut records = vec![dir_record("bin"), file_record("bin/a", A)];
    records.extend((0..10).map(|i| file_record(&format!("bin/x{i}"), b"")));
    let index = index_of(records);
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    for i in 0..10 {
        tar.file(&format!("bin/x{i}"), 0o644, b"");
    }
    tar.end();
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let err = refuse(&zstd(&tar.bytes), limits);
    assert!(
        matches!(
            err,
            ArchiveError::LimitExceeded {
                what: "entries",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_decompression_bomb_is_stopped_by_counting_decompressed_bytes() {
    // The index declares a 64 MiB file of zeros, which compresses to a few
    // KiB; the reader stops at its limit on decompressed bytes.
    let zeros = vec![0u8; 64 << 20];
    let index = index_of(vec![dir_record("bin"), file_record("bin/zeros", &zeros)]);
    let mut tar = RawTar::default();
    tar.head(&index)
        .dir("bin")
        .file("bin/zeros", 0o644, &zeros)
        .end();
    let archive = zstd(&tar.bytes);
    assert!(archive.len() < 1 << 20);
    let limits = Limits {
        max_unpacked_bytes: 8 << 20,
        ..Limits::default()
    };
    let err = refuse(&archive, limits);
    assert!(
        matches!(
            err,
            ArchiveError::LimitExceeded {
                what: "unpacked bytes",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn zeros_after_the_end_marker_beyond_the_record_padding_are_refused() {
    // A small upload that inflates to 1 GiB of zeros after the end marker:
    // refused after one tar record, not read to the 64 GiB limit.
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.end();
    let mut encoder = zstd::Encoder::new(Vec::new(), 19).unwrap();
    std::io::Write::write_all(&mut encoder, &tar.bytes).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        std::io::Write::write_all(&mut encoder, &chunk).unwrap();
    }
    let archive = encoder.finish().unwrap();
    assert!(archive.len() < 1 << 20, "{} bytes", archive.len());
    let err = refuse_default(&archive);
    assert!(
        matches!(&err, ArchiveError::CorruptTar(m) if m.contains("follows the end of the archive")),
        "{err}"
    );
}

#[test]
fn a_second_zstd_frame_after_the_archive_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.end();
    let mut archive = zstd(&tar.bytes);
    archive.extend(zstd(&vec![0u8; 1 << 20]));
    let err = refuse_default(&archive);
    assert!(matches!(err, ArchiveError::CorruptTar(_)), "{err}");
}

#[test]
fn zeros_up_to_a_whole_tar_record_after_the_end_marker_are_accepted() {
    // GNU tar pads an archive to a record of 10240 bytes.
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.end();
    let padded = tar.bytes.len().div_ceil(10240) * 10240;
    tar.bytes.resize(padded, 0);
    assert!(verify(&zstd(&tar.bytes)[..], &Limits::default()).is_ok());
    tar.bytes.resize(padded + 512, 0);
    assert!(verify(&zstd(&tar.bytes)[..], &Limits::default()).is_err());
}

#[test]
fn padding_headers_past_what_the_index_declares_is_refused() {
    // A PAX header of ignored records, far larger than the entry it describes needs.
    let index = base_index();
    let mut tar = RawTar::default();
    tar.head(&index).dir("bin");
    // `<len> comment=<value>\n`, where len (6 digits) counts the whole record.
    let record = format!("900006 comment={}\n", "x".repeat(899_990));
    assert_eq!(record.len(), 900_006);
    tar.header("pax", b'x', 0o644, record.len() as u64, "")
        .content(record.as_bytes())
        .file("bin/a", 0o644, A)
        .end();
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(
        matches!(
            err,
            ArchiveError::LimitExceeded {
                what: "bytes the index declares",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn data_after_the_end_marker_is_refused() {
    let index = base_index();
    let mut tar = RawTar::default();
    base(&mut tar, &index);
    tar.end().file("bin/late", 0o644, b"late");
    let err = refuse_default(&zstd(&tar.bytes));
    assert!(matches!(err, ArchiveError::CorruptTar(_)), "{err}");
}
