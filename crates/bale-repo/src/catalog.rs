//! Putting a verified package into the repository: its coordinate and
//! architecture claimed in the database (so exactly one content wins), its objects written to
//! storage, and its record marked stored once all of them are in place.
//! Both a `PUT` and a build service's worker publish through here.

use std::path::Path;

use bale_archive::{EntryType, Index};
use bale_coordinate::Coordinate;
use bale_db::packages::{self, Claim, NewFile, NewPackage, PackageRecord};
use bale_db::Database;
use bytes::Bytes;

use crate::paths::{arch_key, PackageFile};
use crate::{RepoError, Storage};

/// A package already checked whole (archive, coordinate, signature).
#[derive(Debug, Clone, Copy)]
pub struct VerifiedPackage<'a> {
    /// Its coordinate, as the archive and the path agree.
    pub coordinate: &'a Coordinate,
    /// Its index.
    pub index: &'a Index,
    /// The archive on local disk.
    pub archive: &'a Path,
    /// `sha256:<hex>` of the archive.
    pub digest: &'a str,
    /// The archive's size in bytes.
    pub size: u64,
    /// The `.minisig` file's text, when signed.
    pub signature: Option<&'a str>,
    /// The id of the key that signed it.
    pub key_id: Option<&'a str>,
}

/// What storing a package did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// Its coordinate was free: it is now published.
    New,
    /// The same bytes were claimed but not (or no longer) stored: stored again.
    Again,
    /// The same bytes were already published; nothing changed.
    Unchanged(PackageRecord),
    /// Other bytes hold the coordinate; nothing changed.
    Conflict(PackageRecord),
}

/// Claims the package's coordinate, writes signature and index first and the
/// archive last (whoever sees the archive also finds its signature, on a
/// static mirror too), then marks it stored.
pub async fn store_package(
    storage: &Storage,
    db: &Database,
    package: &VerifiedPackage<'_>,
) -> Result<Stored, RepoError> {
    let index_json = package
        .index
        .to_json()
        .map_err(|e| RepoError::Internal(e.to_string()))?;
    let record = new_package(package, &index_json)?;
    let coordinate = package.coordinate;
    let arch = package.index.arch();
    let claimed = match packages::claim(db, &record).await? {
        Claim::Claimed => true,
        Claim::Existing(existing) if existing.digest != package.digest => {
            return Ok(Stored::Conflict(existing))
        }
        Claim::Existing(existing)
            if existing.stored
                && storage
                    .head(&arch_key(coordinate, arch, PackageFile::Archive))
                    .await?
                    .is_some() =>
        {
            return Ok(Stored::Unchanged(existing))
        }
        // Same bytes, claimed by a publish that has not finished (or died), or
        // lost from storage since: store them (again).
        Claim::Existing(_) => false,
    };
    let stored = write_objects(storage, package, index_json).await;
    if let Err(error) = stored {
        if claimed {
            let _ = packages::release(db, &record.coordinate, arch, package.digest).await;
        }
        return Err(error);
    }
    packages::mark_stored(db, &record.coordinate, arch).await?;
    Ok(if claimed { Stored::New } else { Stored::Again })
}

async fn write_objects(
    storage: &Storage,
    package: &VerifiedPackage<'_>,
    index_json: Vec<u8>,
) -> Result<(), RepoError> {
    let coordinate = package.coordinate;
    let key = |file| arch_key(coordinate, package.index.arch(), file);
    if let Some(text) = package.signature {
        storage
            .put_bytes(&key(PackageFile::Signature), Bytes::from(text.to_owned()))
            .await?;
    }
    storage
        .put_bytes(&key(PackageFile::Index), Bytes::from(index_json))
        .await?;
    storage
        .put_file(&key(PackageFile::Archive), package.archive)
        .await
}

/// The database record: identity, digest, and the files search needs.
fn new_package(package: &VerifiedPackage<'_>, index_json: &[u8]) -> Result<NewPackage, RepoError> {
    let files = package
        .index
        .files
        .iter()
        .filter(|f| f.entry_type == EntryType::File)
        .map(|f| NewFile {
            path: f.path.clone(),
            class: f
                .class
                .and_then(|c| serde_json::to_value(c).ok())
                .and_then(|v| v.as_str().map(str::to_owned)),
            sha256: f.sha256.clone(),
            needed: f.elf.as_ref().map(|e| e.needed.clone()).unwrap_or_default(),
        })
        .collect();
    let c = package.coordinate;
    Ok(NewPackage {
        coordinate: c.to_string(),
        group: c.group().to_owned(),
        name: c.name().to_owned(),
        version: c.version().to_owned(),
        arch: package.index.arch().to_owned(),
        digest: package.digest.to_owned(),
        size: package.size,
        key_id: package.key_id.map(str::to_owned),
        index_json: String::from_utf8(index_json.to_vec())
            .map_err(|e| RepoError::Internal(e.to_string()))?,
        files,
    })
}
