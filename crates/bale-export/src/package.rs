//! The package an export is made from: verified, unpacked into a private
//! temporary directory, with its index, manifest and digest.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use bale_archive::{Index, Limits, UnpackOptions};
use bale_manifest::Manifest;
use sha2::{Digest, Sha256};

use crate::ExportError;

/// A package opened for export.
#[derive(Debug)]
pub struct Package {
    file: PathBuf,
    sha256: String,
    index: Index,
    manifest: Manifest,
    manifest_toml: Vec<u8>,
    root: tempfile::TempDir,
}

impl Package {
    /// Verifies the package file entry by entry and unpacks it into a
    /// temporary directory removed when the [`Package`] is dropped.
    pub fn open(file: &Path) -> Result<Package, ExportError> {
        let sha256 = sha256_of(file)?;
        let root = tempfile::Builder::new()
            .prefix("bale-export-")
            .tempdir()
            .map_err(|e| ExportError::io(std::env::temp_dir(), e))?;
        let input = File::open(file).map_err(|e| ExportError::io(file, e))?;
        let opts = UnpackOptions {
            limits: Limits::default(),
            read_only: false,
            sync: false,
        };
        let unpacked =
            bale_archive::unpack(BufReader::new(input), root.path(), &opts).map_err(|source| {
                ExportError::Package {
                    path: file.to_path_buf(),
                    source,
                }
            })?;
        let text = String::from_utf8_lossy(&unpacked.manifest_toml).into_owned();
        let origin = file.display().to_string();
        let manifest =
            Manifest::parse_installed(&origin, &text).map_err(|e| ExportError::Manifest {
                path: file.to_path_buf(),
                reason: e.to_string(),
            })?;
        Ok(Package {
            file: file.to_path_buf(),
            sha256,
            index: unpacked.index,
            manifest,
            manifest_toml: unpacked.manifest_toml,
            root,
        })
    }

    /// The package file it was opened from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Lower-case hex sha256 of the package file.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Its `.bale/index.json`.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Its resolved manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The bytes of its `.bale/manifest.toml`.
    pub fn manifest_toml(&self) -> &[u8] {
        &self.manifest_toml
    }

    /// The unpacked package root (`bin/`, `etc/`, `lib/`, `script.d/`, …).
    pub fn root(&self) -> &Path {
        self.root.path()
    }
}

fn sha256_of(file: &Path) -> Result<String, ExportError> {
    let mut input = File::open(file).map_err(|e| ExportError::io(file, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = input.read(&mut buf).map_err(|e| ExportError::io(file, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
