//! What the documents say about the package itself, read from its file:
//! the index, the manifest, and every regular file's SHA-1 (the index
//! holds SHA-256 only).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use bale_archive::{EntryType, Index, UnpackOptions};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::SbomError;

/// A package as the SBOM and the provenance describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFacts {
    /// The package's file name (`hello-1.0.0.bale`): the statement's subject.
    pub file_name: String,
    /// Lower-case hex SHA-256 of the package file.
    pub sha256: String,
    /// The package's index.
    pub index: Index,
    /// `.bale/manifest.toml`, as packed.
    pub manifest_toml: String,
    /// Lower-case hex SHA-1 of every regular file, by path.
    pub file_sha1: BTreeMap<String, String>,
}

impl PackageFacts {
    /// Reads `package`, unpacking it (checked, as `bale verify` does) into a
    /// temporary directory under `scratch` to hash its files.
    pub fn read(package: &Path, scratch: &Path) -> Result<PackageFacts, SbomError> {
        let file_name = package
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                SbomError::io(
                    package,
                    std::io::Error::other("the package's file name is not UTF-8"),
                )
            })?
            .to_owned();
        let sha256 = sha256_of(package)?;
        std::fs::create_dir_all(scratch).map_err(|e| SbomError::io(scratch, e))?;
        let dir = tempfile::Builder::new()
            .prefix("sbom-")
            .tempdir_in(scratch)
            .map_err(|e| SbomError::io(scratch, e))?;
        let input = File::open(package).map_err(|e| SbomError::io(package, e))?;
        let unpacked = bale_archive::unpack(
            BufReader::with_capacity(1 << 20, input),
            dir.path(),
            &UnpackOptions::default(),
        )
        .map_err(|source| SbomError::Package {
            path: package.to_path_buf(),
            source,
        })?;
        let mut file_sha1 = BTreeMap::new();
        for record in &unpacked.index.files {
            if record.entry_type == EntryType::File {
                let path = dir.path().join(&record.path);
                file_sha1.insert(record.path.clone(), hex_digest::<Sha1>(&path)?);
            }
        }
        let manifest_toml = String::from_utf8(unpacked.manifest_toml)
            .map_err(|_| SbomError::Manifest("it is not UTF-8".into()))?;
        Ok(PackageFacts {
            file_name,
            sha256,
            index: unpacked.index,
            manifest_toml,
            file_sha1,
        })
    }

    /// The manifest as JSON (the provenance's external parameters).
    pub fn manifest_json(&self) -> Result<serde_json::Value, SbomError> {
        toml::from_str::<serde_json::Value>(&self.manifest_toml)
            .map_err(|e| SbomError::Manifest(e.to_string()))
    }

    /// Where the source came from, with any user name or password in a URL left out.
    pub fn source_location(&self) -> Option<String> {
        self.index.source.git.as_deref().map(public_source)
    }
}

/// Lower-case hex SHA-256 of a file.
pub(crate) fn sha256_of(path: &Path) -> Result<String, SbomError> {
    hex_digest::<Sha256>(path)
}

fn hex_digest<D: Digest + std::io::Write>(path: &Path) -> Result<String, SbomError> {
    let mut file = File::open(path).map_err(|e| SbomError::io(path, e))?;
    let mut hasher = D::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| SbomError::io(path, e))?;
        if n == 0 {
            break;
        }
        Digest::update(&mut hasher, &buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A source location with the user information of a URL
/// (`https://user:token@host/…`) removed: a record never holds a secret.
pub fn public_source(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => location.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_source_url_loses_its_user_information() {
        assert_eq!(
            super::public_source("https://bob:s3cret@git.example.org/app.git"),
            "https://git.example.org/app.git"
        );
        assert_eq!(
            super::public_source("https://git.example.org/a@b.git"),
            "https://git.example.org/a@b.git"
        );
        assert_eq!(super::public_source("/srv/app"), "/srv/app");
    }
}
