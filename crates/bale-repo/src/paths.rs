//! The repository tree: which package file a URL path names, and its object key.
//!
//! `org.example:hello:2.10` lives at `org/example/hello/2.10/` as
//! `hello-2.10.bale`, `hello-2.10.bale.minisig` and `hello-2.10.json`, and
//! the build's SBOMs and provenance beside the archive (`hello-2.10.bale.spdx.json`,
//! `.cdx.json`, `.intoto.json`; docs/sbom.md).
//! Only those names exist; every other path is refused before any
//! storage is touched, so `..`, encoded slashes and other tricks never reach it.

use bale_coordinate::Coordinate;

/// One of the files a package has in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageFile {
    /// `<name>-<version>.bale`, the archive.
    Archive,
    /// `<name>-<version>.bale.minisig`, its signature.
    Signature,
    /// `<name>-<version>.json`, its index.json.
    Index,
    /// `<archive>.spdx.json`, its SPDX SBOM.
    Spdx,
    /// `<archive>.cdx.json`, its CycloneDX SBOM.
    CycloneDx,
    /// `<archive>.intoto.json`, its signed provenance.
    Provenance,
}

impl PackageFile {
    /// Every file a package may have in the tree.
    pub const ALL: [PackageFile; 6] = [
        PackageFile::Archive,
        PackageFile::Signature,
        PackageFile::Index,
        PackageFile::Spdx,
        PackageFile::CycloneDx,
        PackageFile::Provenance,
    ];

    /// The SBOMs and the provenance, the files a build writes beside its archive.
    pub const ATTESTATIONS: [PackageFile; 3] = [
        PackageFile::Spdx,
        PackageFile::CycloneDx,
        PackageFile::Provenance,
    ];

    /// The suffix an attestation's name adds to the archive's; `None` for the others.
    pub fn attestation_suffix(self) -> Option<&'static str> {
        match self {
            PackageFile::Spdx => Some(".spdx.json"),
            PackageFile::CycloneDx => Some(".cdx.json"),
            PackageFile::Provenance => Some(".intoto.json"),
            _ => None,
        }
    }
}

impl PackageFile {
    /// The file's name for `coordinate`.
    pub fn file_name(self, coordinate: &Coordinate) -> String {
        match self {
            PackageFile::Archive => coordinate.file_name(),
            PackageFile::Signature => format!("{}.minisig", coordinate.file_name()),
            PackageFile::Index => format!("{}-{}.json", coordinate.name(), coordinate.version()),
            // Named after the archive, whatever its name: `<archive><suffix>`.
            PackageFile::Spdx | PackageFile::CycloneDx | PackageFile::Provenance => format!(
                "{}{}",
                PackageFile::Archive.file_name(coordinate),
                self.attestation_suffix().unwrap_or_default()
            ),
        }
    }

    /// The HTTP content type this file is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            PackageFile::Archive => "application/zstd",
            PackageFile::Signature => "text/plain; charset=utf-8",
            PackageFile::Index => "application/json",
            PackageFile::Spdx => "application/spdx+json",
            PackageFile::CycloneDx => "application/vnd.cyclonedx+json",
            PackageFile::Provenance => "application/vnd.dsse.envelope.v1+json",
        }
    }
}

/// The object key (and relative URL path) of one package file.
pub fn key(coordinate: &Coordinate, file: PackageFile) -> String {
    format!(
        "{}/{}",
        coordinate.relative_dir(),
        file.file_name(coordinate)
    )
}

/// A URL path that names a package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreePath {
    /// The package.
    pub coordinate: Coordinate,
    /// Which of its files.
    pub file: PackageFile,
}

/// Why a URL path names no package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRefusal {
    /// The path tries something: `..`, `.`, an encoded `/` or `\`, a NUL, bad escapes.
    Malformed(String),
    /// A well-formed path that is not one of a package's three files.
    NotAPackageFile,
}

impl TreePath {
    /// Parses the raw (still percent-encoded) path of a request URL.
    pub fn parse(raw: &str) -> Result<TreePath, PathRefusal> {
        let rest = raw
            .strip_prefix('/')
            .ok_or_else(|| PathRefusal::Malformed("the path must start with `/`".into()))?;
        let mut segments = Vec::new();
        for segment in rest.split('/') {
            if segment == "." || segment == ".." {
                return Err(PathRefusal::Malformed(format!(
                    "`{segment}` is not allowed in a repository path"
                )));
            }
            let decoded = percent_decode(segment)?;
            if decoded == "." || decoded == ".." || decoded.contains(['/', '\\', '\0']) {
                return Err(PathRefusal::Malformed(format!(
                    "the segment `{segment}` decodes to `{decoded}`, which is not allowed in a repository path"
                )));
            }
            segments.push(decoded);
        }
        if segments.len() < 4 || segments.iter().any(String::is_empty) {
            return Err(PathRefusal::NotAPackageFile);
        }
        let n = segments.len();
        let group = segments[..n - 3].join(".");
        let coordinate = Coordinate::new(&group, &segments[n - 3], &segments[n - 2])
            .map_err(|_| PathRefusal::NotAPackageFile)?;
        let file = PackageFile::ALL
            .into_iter()
            .find(|f| f.file_name(&coordinate) == segments[n - 1])
            .ok_or(PathRefusal::NotAPackageFile)?;
        // `org.example/…` and `org/example/…` would name one package; only the canonical form exists.
        if key(&coordinate, file) != segments.join("/") {
            return Err(PathRefusal::NotAPackageFile);
        }
        Ok(TreePath { coordinate, file })
    }

    /// The object key of this file.
    pub fn key(&self) -> String {
        key(&self.coordinate, self.file)
    }
}

fn percent_decode(segment: &str) -> Result<String, PathRefusal> {
    if !segment.contains('%') {
        return Ok(segment.to_owned());
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            let value = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
            match value {
                Some(v) => out.push(v),
                None => {
                    return Err(PathRefusal::Malformed(format!(
                        "bad percent-escape in `{segment}`"
                    )))
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| PathRefusal::Malformed(format!("`{segment}` is not UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_package_files_parse() {
        let p = TreePath::parse("/org/example/hello/2.10/hello-2.10.bale").unwrap();
        assert_eq!(p.coordinate.to_string(), "org.example:hello:2.10");
        assert_eq!(p.file, PackageFile::Archive);
        assert_eq!(p.key(), "org/example/hello/2.10/hello-2.10.bale");
        assert_eq!(
            TreePath::parse("/org/example/hello/2.10/hello-2.10.bale.minisig")
                .unwrap()
                .file,
            PackageFile::Signature
        );
        assert_eq!(
            TreePath::parse("/org/example/hello/2.10/hello-2.10.json")
                .unwrap()
                .file,
            PackageFile::Index
        );
        for (name, file) in [
            ("hello-2.10.bale.spdx.json", PackageFile::Spdx),
            ("hello-2.10.bale.cdx.json", PackageFile::CycloneDx),
            ("hello-2.10.bale.intoto.json", PackageFile::Provenance),
        ] {
            let path = TreePath::parse(&format!("/org/example/hello/2.10/{name}")).unwrap();
            assert_eq!(path.file, file);
            assert_eq!(path.key(), format!("org/example/hello/2.10/{name}"));
        }
        // An escaped `+` is the same version.
        assert_eq!(
            TreePath::parse("/o/h/1%2Bdeb/h-1+deb.bale")
                .unwrap()
                .coordinate
                .version(),
            "1+deb"
        );
    }

    #[test]
    fn path_tricks_are_malformed() {
        for bad in [
            "/org/example/../hello/2.10/hello-2.10.bale",
            "/org/example/hello/2.10/%2e%2e",
            "/org%2fexample/hello/2.10/hello-2.10.bale",
            "/org/example/hello/2.10%2F..%2F..%2Fetc/passwd",
            "/org/ex%5cample/hello/2.10/hello-2.10.bale",
            "/org/example/hello/2.10/hello-2.10.bale%00",
            "/org/example/hello/2.10/%zz",
            "/./org/example/hello/2.10/hello-2.10.bale",
        ] {
            assert!(
                matches!(TreePath::parse(bad), Err(PathRefusal::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn other_paths_name_no_package_file() {
        for other in [
            "/",
            "/org/example/hello/2.10/",
            "/org/example/hello/2.10/other-2.10.bale",
            "/org/example/hello/2.10/hello-2.10.tar",
            "/org.example/hello/2.10/hello-2.10.bale",
            "/Org/hello/2.10/hello-2.10.bale",
            "/org//hello/2.10/hello-2.10.bale",
            "/hello/2.10/hello-2.10.bale",
        ] {
            assert_eq!(
                TreePath::parse(other),
                Err(PathRefusal::NotAPackageFile),
                "{other}"
            );
        }
    }
}
