//! Published packages and the files they ship, indexed for search.
//!
//! A publish first *claims* its coordinate and architecture here: the row's
//! primary key makes exactly one content win, across any number of servers
//! sharing the database; each architecture of a coordinate is its own claim. The row becomes visible to readers once its objects are stored.

use sqlx::any::AnyRow;

use crate::{column, now, Database, DbError};

/// A package about to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPackage {
    /// `group:name:version`.
    pub coordinate: String,
    /// Dotted group.
    pub group: String,
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The Debian architecture in its index (`amd64`, `arm64`, `all`).
    pub arch: String,
    /// `sha256:<hex>` of the archive's bytes.
    pub digest: String,
    /// The archive's size in bytes.
    pub size: u64,
    /// The id of the trusted key that signed it, if signed.
    pub key_id: Option<String>,
    /// The package's `.bale/index.json`, verbatim.
    pub index_json: String,
    /// The files it ships.
    pub files: Vec<NewFile>,
}

/// One shipped file, as search needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Path inside the package root, e.g. `bin/hello`.
    pub path: String,
    /// The file's class (`elf-executable`, …), regular files only.
    pub class: Option<String>,
    /// Hex sha256 of the content, regular files only.
    pub sha256: Option<String>,
    /// The ELF file's needed sonames.
    pub needed: Vec<String>,
}

/// A package as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackageRecord {
    /// `group:name:version`.
    pub coordinate: String,
    /// Dotted group.
    pub group: String,
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The Debian architecture in its index (`amd64`, `arm64`, `all`).
    pub arch: String,
    /// `sha256:<hex>` of the archive.
    pub digest: String,
    /// Size of the archive in bytes.
    pub size: u64,
    /// The id of the key that signed it, if signed.
    pub key_id: Option<String>,
    /// The package's index.json.
    #[serde(skip)]
    pub index_json: String,
    /// Whether the archive is in storage (readers see only stored packages).
    pub stored: bool,
    /// When it was first published, seconds since the Unix epoch.
    pub published_at: i64,
}

/// The outcome of claiming a coordinate.
#[derive(Debug, Clone, PartialEq, Eq)]
// One claim per publish: the record's size does not matter, a box would.
#[allow(clippy::large_enum_variant)]
pub enum Claim {
    /// The coordinate was free and now belongs to this content.
    Claimed,
    /// The coordinate was already claimed, by this content or another.
    Existing(PackageRecord),
}

/// A package that ships a file at a path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileHit {
    /// The package.
    pub coordinate: String,
    /// Its architecture.
    pub arch: String,
    /// The file's path in it.
    pub path: String,
    /// The file's class.
    pub class: Option<String>,
    /// The file's sha256.
    pub sha256: Option<String>,
}

/// A file whose ELF header needs a library.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LibraryHit {
    /// The package.
    pub coordinate: String,
    /// Its architecture.
    pub arch: String,
    /// The ELF file that needs the library.
    pub path: String,
    /// The needed soname.
    pub soname: String,
}

const COLUMNS: &str =
    "coordinate, arch, group_name, name, version, digest, size, key_id, index_json, stored, published_at";

/// Claims `package.coordinate` and `package.arch` for this content, or
/// returns whoever holds them.
pub async fn claim(db: &Database, package: &NewPackage) -> Result<Claim, DbError> {
    let mut tx = db.pool().begin().await?;
    // The insert comes first so SQLite takes the write lock before reading anything.
    let inserted = sqlx::query(
        "INSERT INTO packages (coordinate, arch, group_name, name, version, digest, size, key_id, index_json, stored, published_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10) ON CONFLICT (coordinate, arch) DO NOTHING",
    )
    .bind(&package.coordinate)
    .bind(&package.arch)
    .bind(&package.group)
    .bind(&package.name)
    .bind(&package.version)
    .bind(&package.digest)
    .bind(package.size as i64)
    .bind(package.key_id.as_deref())
    .bind(&package.index_json)
    .bind(now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await?;
        return match get(db, &package.coordinate, &package.arch).await? {
            Some(record) => Ok(Claim::Existing(record)),
            None => Err(DbError::Corrupt(format!(
                "{} ({}) was claimed but has no row",
                package.coordinate, package.arch
            ))),
        };
    }
    for file in &package.files {
        sqlx::query(
            "INSERT INTO package_files (coordinate, arch, path, class, sha256) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&package.coordinate)
        .bind(&package.arch)
        .bind(&file.path)
        .bind(file.class.as_deref())
        .bind(file.sha256.as_deref())
        .execute(&mut *tx)
        .await?;
        let mut needed = file.needed.clone();
        needed.sort();
        needed.dedup();
        for soname in needed {
            sqlx::query(
                "INSERT INTO package_needs (coordinate, arch, path, soname) VALUES ($1, $2, $3, $4)",
            )
            .bind(&package.coordinate)
            .bind(&package.arch)
                .bind(&file.path)
                .bind(soname)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(Claim::Claimed)
}

/// Marks a claimed package as stored, making it visible to readers.
pub async fn mark_stored(db: &Database, coordinate: &str, arch: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE packages SET stored = 1 WHERE coordinate = $1 AND arch = $2")
        .bind(coordinate)
        .bind(arch)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Gives up a claim whose objects could not be stored, so another publish may try.
///
/// Only an unstored claim by this exact content is removed.
pub async fn release(
    db: &Database,
    coordinate: &str,
    arch: &str,
    digest: &str,
) -> Result<(), DbError> {
    let mut tx = db.pool().begin().await?;
    let removed = sqlx::query(
        "DELETE FROM packages WHERE coordinate = $1 AND arch = $2 AND digest = $3 AND stored = 0",
    )
    .bind(coordinate)
    .bind(arch)
    .bind(digest)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if removed > 0 {
        for table in ["package_files", "package_needs"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE coordinate = $1 AND arch = $2"
            ))
            .bind(coordinate)
            .bind(arch)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Records the signing key of a package that had none; returns whether it
/// changed. Only one caller gets `true`: that is how a signature upload
/// claims the package before writing its signature.
pub async fn set_key_id(
    db: &Database,
    coordinate: &str,
    arch: &str,
    key_id: &str,
) -> Result<bool, DbError> {
    let changed = sqlx::query(
        "UPDATE packages SET key_id = $1 WHERE coordinate = $2 AND arch = $3 AND key_id IS NULL",
    )
    .bind(key_id)
    .bind(coordinate)
    .bind(arch)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(changed > 0)
}

/// Gives up a signature claim ([`set_key_id`]) whose signature could not be
/// stored, so another upload may sign the package.
pub async fn clear_key_id(
    db: &Database,
    coordinate: &str,
    arch: &str,
    key_id: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE packages SET key_id = NULL WHERE coordinate = $1 AND arch = $2 AND key_id = $3",
    )
    .bind(coordinate)
    .bind(arch)
    .bind(key_id)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// What [`claim_attestation`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttestationClaim {
    /// This upload claimed the file: it writes the object.
    Claimed,
    /// Another upload claimed it first, with these bytes' `sha256:<hex>`.
    Existing(String),
}

/// Claims an SBOM or provenance file (`file`: its suffix) of a package for
/// the bytes with `digest`, before the object is written. Of concurrent
/// claims exactly one gets [`AttestationClaim::Claimed`].
pub async fn claim_attestation(
    db: &Database,
    coordinate: &str,
    arch: &str,
    file: &str,
    digest: &str,
) -> Result<AttestationClaim, DbError> {
    let inserted = sqlx::query(
        "INSERT INTO attestations (coordinate, arch, file, digest) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (coordinate, arch, file) DO NOTHING",
    )
    .bind(coordinate)
    .bind(arch)
    .bind(file)
    .bind(digest)
    .execute(db.pool())
    .await?
    .rows_affected();
    if inserted > 0 {
        return Ok(AttestationClaim::Claimed);
    }
    let row = sqlx::query(
        "SELECT digest FROM attestations WHERE coordinate = $1 AND arch = $2 AND file = $3",
    )
    .bind(coordinate)
    .bind(arch)
    .bind(file)
    .fetch_one(db.pool())
    .await?;
    Ok(AttestationClaim::Existing(column(&row, "digest")?))
}

/// Gives up a claim ([`claim_attestation`]) whose object could not be stored.
pub async fn release_attestation(
    db: &Database,
    coordinate: &str,
    arch: &str,
    file: &str,
    digest: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "DELETE FROM attestations WHERE coordinate = $1 AND arch = $2 AND file = $3 AND digest = $4",
    )
    .bind(coordinate)
    .bind(arch)
    .bind(file)
    .bind(digest)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The record of one coordinate and architecture, stored or not.
pub async fn get(
    db: &Database,
    coordinate: &str,
    arch: &str,
) -> Result<Option<PackageRecord>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM packages WHERE coordinate = $1 AND arch = $2"
    ))
    .bind(coordinate)
    .bind(arch)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(record).transpose()
}

/// The records of every architecture of one coordinate, stored or not, by architecture.
pub async fn get_all(db: &Database, coordinate: &str) -> Result<Vec<PackageRecord>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM packages WHERE coordinate = $1 ORDER BY arch"
    ))
    .bind(coordinate)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(record).collect()
}

/// The stored versions of `group:name`, oldest first.
pub async fn versions(
    db: &Database,
    group: &str,
    name: &str,
) -> Result<Vec<PackageRecord>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM packages WHERE group_name = $1 AND name = $2 AND stored = 1 \
         ORDER BY published_at, version, arch"
    ))
    .bind(group)
    .bind(name)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(record).collect()
}

/// Stored packages whose name contains `text` (case-insensitive), by group, name, publish time.
pub async fn search_name(db: &Database, text: &str) -> Result<Vec<PackageRecord>, DbError> {
    let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM packages WHERE LOWER(name) LIKE $1 ESCAPE '\\' AND stored = 1 \
         ORDER BY group_name, name, published_at, version, arch"
    ))
    .bind(pattern)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(record).collect()
}

/// Stored packages that ship `path` (with or without a leading `/`).
pub async fn search_file(db: &Database, path: &str) -> Result<Vec<FileHit>, DbError> {
    let path = path.trim_start_matches('/');
    let rows = sqlx::query(
        "SELECT f.coordinate, f.arch, f.path, f.class, f.sha256 FROM package_files f \
         JOIN packages p ON p.coordinate = f.coordinate AND p.arch = f.arch \
         WHERE f.path = $1 AND p.stored = 1 ORDER BY f.coordinate, f.arch",
    )
    .bind(path)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(FileHit {
                coordinate: column(row, "coordinate")?,
                arch: column(row, "arch")?,
                path: column(row, "path")?,
                class: column(row, "class")?,
                sha256: column(row, "sha256")?,
            })
        })
        .collect()
}

/// Files of stored packages whose ELF header needs `soname`.
pub async fn search_library(db: &Database, soname: &str) -> Result<Vec<LibraryHit>, DbError> {
    let rows = sqlx::query(
        "SELECT n.coordinate, n.arch, n.path, n.soname FROM package_needs n \
         JOIN packages p ON p.coordinate = n.coordinate AND p.arch = n.arch \
         WHERE n.soname = $1 AND p.stored = 1 ORDER BY n.coordinate, n.arch, n.path",
    )
    .bind(soname)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(LibraryHit {
                coordinate: column(row, "coordinate")?,
                arch: column(row, "arch")?,
                path: column(row, "path")?,
                soname: column(row, "soname")?,
            })
        })
        .collect()
}

fn record(row: &AnyRow) -> Result<PackageRecord, DbError> {
    let size: i64 = column(row, "size")?;
    let stored: i64 = column(row, "stored")?;
    Ok(PackageRecord {
        coordinate: column(row, "coordinate")?,
        arch: column(row, "arch")?,
        group: column(row, "group_name")?,
        name: column(row, "name")?,
        version: column(row, "version")?,
        digest: column(row, "digest")?,
        size: u64::try_from(size).map_err(|_| DbError::Corrupt(format!("negative size {size}")))?,
        key_id: column(row, "key_id")?,
        index_json: column(row, "index_json")?,
        stored: stored != 0,
        published_at: column(row, "published_at")?,
    })
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
