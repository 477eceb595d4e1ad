//! Fixtures shared by the integration tests: package trees, packing, and
//! hand-built (possibly malicious) tar streams.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bale_archive::{
    Dependencies, EntryType, FileRecord, Index, PackMeta, PackageTree, SourceRef, StackRef,
};
use sha2::{Digest, Sha256};

pub const MANIFEST: &[u8] = b"[package]\nname = \"hello\"\n";

pub fn meta() -> PackMeta {
    PackMeta {
        arch: None,
        coordinate: "org.example:hello:1.0.0".parse().unwrap(),
        stack: StackRef {
            name: "debian-bookworm".into(),
            digest: "sha256:00".into(),
        },
        dependencies: Dependencies {
            runtime: vec!["libpq5".into()],
            detected: vec![],
        },
        source: SourceRef {
            git: Some("https://example.org/hello.git".into()),
            commit: Some("abc".into()),
        },
        mtime: 1_700_000_000,
    }
}

/// Packs `root` into memory.
pub fn pack(root: &Path) -> Vec<u8> {
    let tree = PackageTree::scan(root).unwrap();
    let mut out = Vec::new();
    tree.write(&meta(), MANIFEST, &mut out).unwrap();
    out
}

pub fn write_file(root: &Path, rel: &str, content: &[u8], mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A small package tree with a script, a config file, data, a symlink and a long path.
pub fn sample_tree(root: &Path) {
    write_file(root, "bin/hello", b"#!/bin/sh\necho hello\n", 0o755);
    write_file(root, "etc/hello.conf", b"greeting = hi\n", 0o644);
    write_file(root, "share/doc/README", b"read me\n", 0o600);
    write_file(root, "lib/empty", b"", 0o644);
    let long = format!("share/{}/{}", "d".repeat(80), "f".repeat(90));
    write_file(root, &long, b"deep\n", 0o644);
    std::os::unix::fs::symlink("../bin/hello", root.join("lib/hello-link")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/python3", root.join("lib/python")).unwrap();
}

/// `bytes` of incompressible noise (xorshift from `seed`).
pub fn noise(bytes: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..bytes / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect()
}

pub fn zstd(tar: &[u8]) -> Vec<u8> {
    zstd::encode_all(tar, 3).unwrap()
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A hand-built tar stream: ustar headers with correct checksums, content
/// and padding exactly as given, nothing checked.
#[derive(Default)]
pub struct RawTar {
    pub bytes: Vec<u8>,
}

impl RawTar {
    pub fn header(&mut self, name: &str, flag: u8, mode: u32, size: u64, link: &str) -> &mut Self {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        put_octal(&mut h[100..108], mode as u64);
        put_octal(&mut h[108..116], 0);
        put_octal(&mut h[116..124], 0);
        put_octal(&mut h[124..136], size);
        put_octal(&mut h[136..148], 0);
        h[156] = flag;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        self.bytes.extend_from_slice(&h);
        self
    }

    pub fn content(&mut self, data: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.bytes.resize(self.bytes.len() + pad, 0);
        self
    }

    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        self.header(name, b'0', mode, data.len() as u64, "")
            .content(data)
    }

    pub fn dir(&mut self, name: &str) -> &mut Self {
        self.header(&format!("{name}/"), b'5', 0o755, 0, "")
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.header(name, b'2', 0o777, 0, target)
    }

    pub fn end(&mut self) -> &mut Self {
        self.bytes.resize(self.bytes.len() + 1024, 0);
        self
    }

    /// `.bale/`, the index and the manifest.
    pub fn head(&mut self, index: &Index) -> &mut Self {
        let json = index.to_json().unwrap();
        self.dir(".bale")
            .file(".bale/index.json", 0o644, &json)
            .file(".bale/manifest.toml", 0o644, MANIFEST)
    }
}

fn put_octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(text.as_bytes());
}

/// An index over `files`.
pub fn index_of(files: Vec<FileRecord>) -> Index {
    let installed_size = files.iter().filter_map(|f| f.size).sum();
    Index {
        format: 1,
        coordinate: "org.example:hello:1.0.0".into(),
        arch: None,
        stack: StackRef::default(),
        dependencies: Dependencies::default(),
        source: SourceRef::default(),
        files,
        installed_size,
    }
}

pub fn file_record(path: &str, content: &[u8]) -> FileRecord {
    FileRecord {
        path: path.into(),
        entry_type: EntryType::File,
        mode: Some(0o644),
        size: Some(content.len() as u64),
        sha256: Some(sha256(content)),
        class: Some(bale_inspect::FileClass::Data),
        elf: None,
        target: None,
    }
}

pub fn dir_record(path: &str) -> FileRecord {
    FileRecord {
        path: path.into(),
        entry_type: EntryType::Dir,
        mode: Some(0o755),
        size: None,
        sha256: None,
        class: None,
        elf: None,
        target: None,
    }
}

pub fn symlink_record(path: &str, target: &str) -> FileRecord {
    FileRecord {
        path: path.into(),
        entry_type: EntryType::Symlink,
        mode: None,
        size: None,
        sha256: None,
        class: None,
        elf: None,
        target: Some(target.into()),
    }
}

/// Every path under `root`, relative, sorted, with a trailing `/` on directories.
pub fn listing(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                out.push(format!("{rel}/"));
                walk(root, &path, out);
            } else {
                out.push(rel);
            }
        }
    }
    walk(root, root, &mut out);
    out.sort();
    out
}
