//! Reading a `.bale` file for the store: its signature, its index, its contents.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bale_archive::{ArchiveError, Index, Limits, UnpackOptions};

use crate::StoreError;

/// An open package file; every read goes through the same open file, so the
/// bytes verified are the bytes unpacked even if the path is replaced meanwhile.
#[derive(Debug)]
pub(crate) struct PackageFile {
    path: PathBuf,
    file: File,
}

/// What the head of an archive says: its index and manifest.
#[derive(Debug)]
pub(crate) struct Head {
    /// `.bale/index.json`, parsed.
    pub(crate) index: Index,
    /// `.bale/manifest.toml`, as stored.
    pub(crate) manifest_toml: Vec<u8>,
}

impl PackageFile {
    /// Opens the package at `path`.
    pub(crate) fn open(path: &Path) -> Result<PackageFile, StoreError> {
        let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
        Ok(PackageFile {
            path: path.to_owned(),
            file,
        })
    }

    /// The package file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the signature beside the file against the keys in `trusted_keys_dir`.
    pub(crate) fn check_signature(&mut self, trusted_keys_dir: &Path) -> Result<(), StoreError> {
        let signature = match bale_sign::read_signature(&self.path) {
            Ok(Some(signature)) => signature,
            Ok(None) => {
                return Err(StoreError::Unsigned {
                    archive: self.path.clone(),
                    signature: bale_sign::signature_path(&self.path),
                })
            }
            Err(bale_sign::SignError::Io { path, source }) => {
                return Err(StoreError::io(&path, source))
            }
            Err(source) => {
                return Err(StoreError::Signature {
                    archive: self.path.clone(),
                    source,
                })
            }
        };
        let keyring = bale_sign::Keyring::load(trusted_keys_dir).map_err(StoreError::Keyring)?;
        let file = self.rewound()?;
        keyring
            .verify(file, &signature)
            .map_err(|source| StoreError::Signature {
                archive: self.path.clone(),
                source,
            })?;
        Ok(())
    }

    /// Reads the index and manifest at the head of the archive, without unpacking.
    pub(crate) fn head(&mut self, limits: &Limits) -> Result<Head, StoreError> {
        let file = self.rewound()?;
        let (index, manifest_toml) =
            read_index(file, limits).map_err(|source| self.archive_error(source))?;
        Ok(Head {
            index,
            manifest_toml,
        })
    }

    /// Unpacks the whole archive into `dest`, files read-only and synced, checking every entry against the index.
    pub(crate) fn unpack(&mut self, dest: &Path, limits: &Limits) -> Result<Head, StoreError> {
        let file = self.rewound()?;
        let (index, manifest_toml) =
            unpack(file, dest, limits).map_err(|source| self.archive_error(source))?;
        Ok(Head {
            index,
            manifest_toml,
        })
    }

    fn rewound(&mut self) -> Result<&mut File, StoreError> {
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| StoreError::io(&self.path, e))?;
        Ok(&mut self.file)
    }

    fn archive_error(&self, source: ArchiveError) -> StoreError {
        StoreError::Archive {
            archive: self.path.clone(),
            source,
        }
    }
}

/// The archive's index and manifest, nothing else decompressed.
fn read_index(input: &mut File, limits: &Limits) -> Result<(Index, Vec<u8>), ArchiveError> {
    bale_archive::read_index_with(input, limits)
}

/// Unpacks into the empty directory `dest`: files read-only, everything synced.
fn unpack(
    input: &mut File,
    dest: &Path,
    limits: &Limits,
) -> Result<(Index, Vec<u8>), ArchiveError> {
    let opts = UnpackOptions {
        limits: *limits,
        read_only: true,
        sync: true,
    };
    let unpacked = bale_archive::unpack(input, dest, &opts)?;
    Ok((unpacked.index, unpacked.manifest_toml))
}
