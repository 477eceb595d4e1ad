//! Publishing a built package from a worker: signed outside the sandbox
//! with the service's key, then written to the repository's storage and
//! recorded in its database, by the same rules as a `PUT`: the coordinate is
//! claimed first so exactly one content wins, the archive is written last,
//! and the package becomes visible once everything is stored.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use bale_archive::{EntryType, Index, Limits};
use bale_coordinate::Coordinate;
use bale_db::packages::{self, Claim, NewFile, NewPackage};
use bale_db::Database;
use bale_repo::paths::{key, PackageFile};
use bale_repo::Storage;
use bale_sign::SecretKey;
use bytes::Bytes;
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
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let path = bale_sign::sign_file(key, archive, secs)?;
            let text = std::fs::read_to_string(&path).map_err(|e| ServiceError::io(&path, e))?;
            Some((text, key.key_id().to_string()))
        }
        None => None,
    };
    let file: PathBuf = archive.to_path_buf();
    let (index, digest, size) = tokio::task::spawn_blocking(move || read_archive(&file))
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
    let coordinate: Coordinate = index
        .coordinate
        .parse()
        .map_err(|e| ServiceError::Publish(format!("the package names no valid coordinate: {e}")))?;
    let index_json = index.to_json().map_err(|e| ServiceError::Publish(e.to_string()))?;
    let record = NewPackage {
        coordinate: coordinate.to_string(),
        group: coordinate.group().to_owned(),
        name: coordinate.name().to_owned(),
        version: coordinate.version().to_owned(),
        digest: digest.clone(),
        size,
        key_id: signature.as_ref().map(|(_, id)| id.clone()),
        index_json: String::from_utf8_lossy(&index_json).into_owned(),
        files: files(&index),
    };
    let key_id = record.key_id.clone();
    let claimed = match packages::claim(db, &record).await? {
        Claim::Claimed => true,
        Claim::Existing(existing) if existing.digest != digest => {
            return Err(ServiceError::Publish(format!(
                "{coordinate} is already published as {} and this build made {digest}; a coordinate never changes, so raise the version",
                existing.digest
            )))
        }
        Claim::Existing(existing) if existing.stored => {
            return Ok(Published {
                coordinate: coordinate.to_string(),
                digest,
                installed_size: index.installed_size,
                key_id: existing.key_id,
                new: false,
            })
        }
        Claim::Existing(_) => false,
    };
    let stored = store(storage, &coordinate, archive, signature.map(|(text, _)| text), index_json).await;
    if let Err(error) = stored {
        if claimed {
            let _ = packages::release(db, &coordinate.to_string(), &digest).await;
        }
        return Err(error);
    }
    packages::mark_stored(db, &coordinate.to_string()).await?;
    Ok(Published { coordinate: coordinate.to_string(), digest, installed_size: index.installed_size, key_id, new: true })
}

/// Verifies the archive whole and hashes it.
fn read_archive(file: &Path) -> Result<(Index, String, u64), ServiceError> {
    let open = || std::fs::File::open(file).map_err(|e| ServiceError::io(file, e));
    let index = bale_archive::verify(BufReader::new(open()?), &Limits::default())
        .map_err(|e| ServiceError::Publish(format!("the built package is not valid: {e}")))?;
    let mut hasher = Sha256::new();
    let mut input = BufReader::with_capacity(1 << 20, open()?);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = input.read(&mut buf).map_err(|e| ServiceError::io(file, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((index, format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

/// The files search needs: regular files with class, hash and needed libraries.
fn files(index: &Index) -> Vec<NewFile> {
    index
        .files
        .iter()
        .filter(|f| f.entry_type == EntryType::File)
        .map(|f| NewFile {
            path: f.path.clone(),
            class: f.class.and_then(|c| serde_json::to_value(c).ok()).and_then(|v| v.as_str().map(str::to_owned)),
            sha256: f.sha256.clone(),
            needed: f.elf.as_ref().map(|e| e.needed.clone()).unwrap_or_default(),
        })
        .collect()
}

/// Signature and index first, the archive last (as a `PUT` does).
async fn store(
    storage: &Storage,
    coordinate: &Coordinate,
    archive: &Path,
    signature: Option<String>,
    index_json: Vec<u8>,
) -> Result<(), ServiceError> {
    if let Some(text) = signature {
        storage.put_bytes(&key(coordinate, PackageFile::Signature), Bytes::from(text)).await?;
    }
    storage.put_bytes(&key(coordinate, PackageFile::Index), Bytes::from(index_json)).await?;
    storage.put_file(&key(coordinate, PackageFile::Archive), archive).await?;
    Ok(())
}
