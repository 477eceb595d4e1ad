//! Publishing a built package from a worker: signed outside the sandbox
//! with the service's key, then stored through the repository's catalog by
//! the same rules as a `PUT`.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use bale_archive::{Index, Limits};
use bale_coordinate::Coordinate;
use bale_db::Database;
use bale_repo::catalog::{store_package, Stored, VerifiedPackage};
use bale_repo::paths::PackageFile;
use bale_repo::Storage;
use bale_sign::SecretKey;
use sha2::{Digest, Sha256};

use crate::ServiceError;

/// What publishing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Published {
    /// The package.
    pub coordinate: String,
    /// `sha256:<hex>` of the archive.
    pub digest: String,
    /// Its installed size.
    pub installed_size: u64,
    /// The signing key's id, when signed.
    pub key_id: Option<String>,
    /// False when the same bytes were already published.
    pub new: bool,
    /// The SBOMs and provenance stored beside it (file names).
    pub attestations: Vec<String>,
}

/// Signs `archive` with `key` (when given) and publishes it.
pub(crate) async fn publish(
    db: &Database,
    storage: &Storage,
    archive: &Path,
    key: Option<&SecretKey>,
) -> Result<Published, ServiceError> {
    let signature = match key {
        Some(key) => {
            let path = bale_sign::sign_file(key, archive, bale_fs::now_secs())?;
            let text = std::fs::read_to_string(&path).map_err(|e| ServiceError::io(&path, e))?;
            // `bale build` wrote the provenance unsigned: the key stays out of the build.
            bale_sbom::sign_beside(archive, key)
                .map_err(|e| ServiceError::Publish(format!("signing the provenance: {e}")))?;
            Some((text, key.key_id().to_string()))
        }
        None => None,
    };
    let file: PathBuf = archive.to_path_buf();
    let (index, digest, size) = tokio::task::spawn_blocking(move || read_archive(&file))
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
    let coordinate: Coordinate = index.coordinate.parse().map_err(|e| {
        ServiceError::Publish(format!("the package names no valid coordinate: {e}"))
    })?;
    let package = VerifiedPackage {
        coordinate: &coordinate,
        index: &index,
        archive,
        digest: &digest,
        size,
        signature: signature.as_ref().map(|(text, _)| text.as_str()),
        key_id: signature.as_ref().map(|(_, id)| id.as_str()),
    };
    let (new, key_id) = match store_package(storage, db, &package).await? {
        Stored::New | Stored::Again => (true, package.key_id.map(str::to_owned)),
        Stored::Unchanged(existing) => (false, existing.key_id),
        Stored::Conflict(existing) => {
            return Err(ServiceError::Publish(format!(
                "{coordinate} is already published as {} and this build made {digest}; a coordinate never changes, so raise the version",
                existing.digest
            )))
        }
    };
    let attestations = store_attestations(storage, archive, &coordinate, index.arch()).await?;
    Ok(Published {
        coordinate: coordinate.to_string(),
        digest,
        installed_size: index.installed_size,
        key_id,
        new,
        attestations,
    })
}

/// Stores the SBOMs and the signed provenance beside the published archive,
/// keeping what the repository already has (a published file never changes).
async fn store_attestations(
    storage: &Storage,
    archive: &Path,
    coordinate: &Coordinate,
    arch: &str,
) -> Result<Vec<String>, ServiceError> {
    let mut stored = Vec::new();
    for file in PackageFile::ATTESTATIONS {
        let mut local = archive.as_os_str().to_owned();
        local.push(file.attestation_suffix().unwrap_or_default());
        let local = PathBuf::from(local);
        let bytes = match std::fs::read(&local) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ServiceError::io(&local, e)),
        };
        if file == PackageFile::Provenance
            && bale_sbom::Envelope::from_slice(&bytes).is_ok_and(|e| e.signatures.is_empty())
        {
            continue;
        }
        let object = bale_repo::paths::arch_key(coordinate, arch, file);
        if storage.head(&object).await?.is_none() {
            storage.put_bytes(&object, bytes.into()).await?;
        }
        stored.push(file.arch_file_name(coordinate, arch));
    }
    Ok(stored)
}

/// Verifies the archive whole and hashes it, in one read.
fn read_archive(file: &Path) -> Result<(Index, String, u64), ServiceError> {
    let input = std::fs::File::open(file).map_err(|e| ServiceError::io(file, e))?;
    let mut hashed = Hashed {
        inner: BufReader::with_capacity(1 << 20, input),
        hasher: Sha256::new(),
        size: 0,
    };
    let index = bale_archive::verify(&mut hashed, &Limits::default())
        .map_err(|e| ServiceError::Publish(format!("the built package is not valid: {e}")))?;
    // Whatever the reader left (padding after the last frame) is part of the file's digest.
    std::io::copy(&mut hashed, &mut std::io::sink()).map_err(|e| ServiceError::io(file, e))?;
    Ok((
        index,
        format!("sha256:{}", hex::encode(hashed.hasher.finalize())),
        hashed.size,
    ))
}

/// A reader that hashes and counts what passes through it.
struct Hashed<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}
