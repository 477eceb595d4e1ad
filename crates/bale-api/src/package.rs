//! The repository's API: health, package listings, one package's metadata,
//! search by file or library, and what a publish answers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `GET /api/v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// `ok` when the server answers.
    pub status: String,
}

/// `GET /api/v1/packages?q=TEXT`: packages whose name contains TEXT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PackageList {
    /// Each package with its version names.
    pub packages: Vec<PackageName>,
}

/// A package and the versions published of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PackageName {
    /// Dotted group.
    pub group: String,
    /// Package name.
    pub name: String,
    /// Its published versions.
    pub versions: Vec<String>,
    /// The architectures published for any of its versions, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archs: Vec<String>,
}

/// `GET /api/v1/packages/GROUP/NAME`: the published versions, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PackageVersions {
    /// Dotted group.
    pub group: String,
    /// Package name.
    pub name: String,
    /// Each version's summary.
    pub versions: Vec<PackageSummary>,
}

/// One published package in a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PackageSummary {
    /// `group:name:version`.
    pub coordinate: String,
    /// Version.
    pub version: String,
    /// The Debian architecture this file is built for (`amd64`, `arm64`, `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// `sha256:<hex>` of the archive.
    pub digest: String,
    /// Size of the archive in bytes.
    pub size: u64,
    /// The id of the key that signed it, if signed.
    pub signed_by: Option<String>,
    /// When it was first published, seconds since the Unix epoch.
    pub published_at: i64,
}

/// `GET /api/v1/packages/GROUP/NAME/VERSION`: one package, its files and its index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PackageDetail {
    /// Coordinate, version, digest, size, signer, time.
    #[serde(flatten)]
    pub summary: PackageSummary,
    /// Dotted group.
    pub group: String,
    /// Package name.
    pub name: String,
    /// Every architecture published for this coordinate, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub archs: Vec<String>,
    /// Whether it is signed, and by which key.
    pub signature: SignatureState,
    /// Where its files are in the repository tree.
    pub files: PackageFiles,
    /// The package's `.bale/index.json`, verbatim.
    pub index: serde_json::Value,
}

/// Whether a published package is signed, and by which key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SignatureState {
    /// `signed` or `unsigned`.
    pub status: SignatureStatus,
    /// The signing key's id, when signed.
    pub key_id: Option<String>,
}

/// Signed or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignatureStatus {
    /// A trusted key's signature is published beside it.
    Signed,
    /// No signature is published.
    Unsigned,
}

/// The repository paths of a package's files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PackageFiles {
    /// The `.bale` archive.
    pub archive: String,
    /// Its `.minisig`, when signed.
    pub signature: Option<String>,
    /// Its `index.json`.
    pub index: String,
}

/// The query of `GET /api/v1/search`: exactly one of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SearchQuery {
    /// A path in the package, e.g. `bin/hello`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// A soname, e.g. `libssl.so.3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
}

/// `GET /api/v1/search`: the packages that ship a file, or whose ELF files need a library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SearchResults {
    /// `?file=PATH`.
    Files {
        /// The path asked for.
        file: String,
        /// The packages that ship it.
        packages: Vec<FileHit>,
    },
    /// `?library=SONAME`.
    Libraries {
        /// The soname asked for.
        library: String,
        /// The ELF files that need it.
        packages: Vec<LibraryHit>,
    },
}

/// A published file found by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileHit {
    /// The package.
    pub coordinate: String,
    /// The package's architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The file's path in it.
    pub path: String,
    /// The file's class (`elf-executable`, …).
    pub class: Option<String>,
    /// The file's sha256.
    pub sha256: Option<String>,
}

/// A published ELF file that needs a library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct LibraryHit {
    /// The package.
    pub coordinate: String,
    /// The package's architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The ELF file that needs the library.
    pub path: String,
    /// The needed soname.
    pub soname: String,
}

/// `PUT` of a package or its signature: what the repository now holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PublishOutcome {
    /// What the upload did.
    pub status: PublishStatus,
    /// `group:name:version`.
    pub coordinate: String,
    /// The architecture it was published as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// `sha256:<hex>` of the archive.
    pub digest: String,
    /// Size of the archive in bytes.
    pub size: u64,
    /// The id of the key that signed it, if signed.
    pub signed_by: Option<String>,
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PublishStatus {
    /// The package is new (201).
    Published,
    /// The same bytes were already there (200).
    Unchanged,
    /// A signature was added to a published package (201).
    Signed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_results_read_back_as_the_kind_asked_for() {
        let files: SearchResults = serde_json::from_value(serde_json::json!({
            "file": "bin/hello",
            "packages": [{"coordinate": "org.example:hello:1.0.0", "path": "bin/hello", "class": null, "sha256": null}],
        }))
        .unwrap();
        assert!(matches!(files, SearchResults::Files { ref packages, .. } if packages.len() == 1));
        let libraries: SearchResults = serde_json::from_value(serde_json::json!({
            "library": "libc.so.6",
            "packages": [],
        }))
        .unwrap();
        assert!(matches!(libraries, SearchResults::Libraries { .. }));
    }

    #[test]
    fn package_detail_keeps_the_summary_fields_at_the_top_level() {
        let detail = PackageDetail {
            summary: PackageSummary {
                coordinate: "org.example:hello:1.0.0".into(),
                version: "1.0.0".into(),
                arch: Some("amd64".into()),
                digest: "sha256:00".into(),
                size: 3,
                signed_by: None,
                published_at: 1,
            },
            group: "org.example".into(),
            name: "hello".into(),
            archs: vec!["amd64".into()],
            signature: SignatureState {
                status: SignatureStatus::Unsigned,
                key_id: None,
            },
            files: PackageFiles {
                archive: "/a".into(),
                signature: None,
                index: "/i".into(),
            },
            index: serde_json::json!({}),
        };
        let value = serde_json::to_value(&detail).unwrap();
        assert_eq!(value["coordinate"], "org.example:hello:1.0.0");
        assert_eq!(value["signature"]["status"], "unsigned");
        let back: PackageDetail = serde_json::from_value(value).unwrap();
        assert_eq!(back, detail);
    }
}
