//! The repository tree: which package file a URL path names, and its object key.
//!
//! `org.example:hello:2.10` built for amd64 lives at `org/example/hello/2.10/`
//! as `hello-2.10-amd64.bale`, `hello-2.10-amd64.bale.minisig` and
//! `hello-2.10-amd64.json`, with the build's SBOMs and provenance beside the
//! archive (`hello-2.10-amd64.bale.spdx.json`, `.cdx.json`, `.intoto.json`;
//! docs/sbom.md); one coordinate has one such set per architecture.
//! Packages published before architectures keep their names without one
//! (`hello-2.10.bale`, read as the architecture in their index). Only those
//! names exist; every other path is refused before any storage is touched, so
//! `..`, encoded slashes and other tricks never reach it.

use bale_coordinate::Coordinate;

/// One of the files a package has in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageFile {
    /// `<name>-<version>-<arch>.bale`, the archive.
    Archive,
    /// `<name>-<version>-<arch>.bale.minisig`, its signature.
    Signature,
    /// `<name>-<version>-<arch>.json`, its index.json.
    Index,
    /// `<archive>.spdx.json`, its SPDX SBOM.
    Spdx,
    /// `<archive>.cdx.json`, its CycloneDX SBOM.
    CycloneDx,
    /// `<archive>.intoto.json`, its signed provenance.
    Provenance,
}

/// Every file, in the order names are matched.
const FILES: [PackageFile; 6] = PackageFile::ALL;

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

    /// The file's name from before architectures: `hello-2.10.bale`.
    pub fn file_name(self, coordinate: &Coordinate) -> String {
        format!(
            "{}-{}{}",
            coordinate.name(),
            coordinate.version(),
            self.suffix()
        )
    }

    /// The file's name for `coordinate` built for `arch`: `hello-2.10-amd64.bale`.
    pub fn arch_file_name(self, coordinate: &Coordinate, arch: &str) -> String {
        format!(
            "{}-{}-{arch}{}",
            coordinate.name(),
            coordinate.version(),
            self.suffix()
        )
    }

    /// The file's name for `coordinate`: for `arch`, or the legacy one for `None`.
    pub fn name_for(self, coordinate: &Coordinate, arch: Option<&str>) -> String {
        match arch {
            Some(arch) => self.arch_file_name(coordinate, arch),
            None => self.file_name(coordinate),
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            PackageFile::Archive => ".bale",
            PackageFile::Signature => ".bale.minisig",
            PackageFile::Index => ".json",
            PackageFile::Spdx => ".bale.spdx.json",
            PackageFile::CycloneDx => ".bale.cdx.json",
            PackageFile::Provenance => ".bale.intoto.json",
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

/// The object key (and relative URL path) of one package file under its
/// name from before architectures.
pub fn key(coordinate: &Coordinate, file: PackageFile) -> String {
    format!(
        "{}/{}",
        coordinate.relative_dir(),
        file.file_name(coordinate)
    )
}

/// The object key (and relative URL path) of one package file for `arch`.
pub fn arch_key(coordinate: &Coordinate, arch: &str, file: PackageFile) -> String {
    format!(
        "{}/{}",
        coordinate.relative_dir(),
        file.arch_file_name(coordinate, arch)
    )
}

/// A URL path that names a package file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreePath {
    /// The package.
    pub coordinate: Coordinate,
    /// Which of its files.
    pub file: PackageFile,
    /// The architecture its name carries; `None` for a name from before architectures.
    pub arch: Option<String>,
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
        let (file, arch) =
            file_and_arch(&coordinate, &segments[n - 1]).ok_or(PathRefusal::NotAPackageFile)?;
        let path = TreePath {
            coordinate,
            file,
            arch,
        };
        // `org.example/…` and `org/example/…` would name one package; only the canonical form exists.
        if path.key() != segments.join("/") {
            return Err(PathRefusal::NotAPackageFile);
        }
        Ok(path)
    }

    /// The object key of this file.
    pub fn key(&self) -> String {
        match &self.arch {
            Some(arch) => arch_key(&self.coordinate, arch, self.file),
            None => key(&self.coordinate, self.file),
        }
    }

    /// The file's name.
    pub fn file_name(&self) -> String {
        self.file.name_for(&self.coordinate, self.arch.as_deref())
    }
}

/// Which file `name` is for `coordinate`, and the architecture it names.
fn file_and_arch(coordinate: &Coordinate, name: &str) -> Option<(PackageFile, Option<String>)> {
    if let Some(file) = FILES.into_iter().find(|f| f.file_name(coordinate) == name) {
        return Some((file, None));
    }
    let rest = name.strip_prefix(&format!("{}-{}-", coordinate.name(), coordinate.version()))?;
    FILES.into_iter().find_map(|file| {
        let arch = rest.strip_suffix(file.suffix())?;
        bale_inspect::is_arch_name(arch).then(|| (file, Some(arch.to_owned())))
    })
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
        assert_eq!(p.arch, None);
        let p = TreePath::parse("/org/example/hello/2.10/hello-2.10-arm64.bale").unwrap();
        assert_eq!(
            (p.file, p.arch.as_deref()),
            (PackageFile::Archive, Some("arm64"))
        );
        assert_eq!(p.key(), "org/example/hello/2.10/hello-2.10-arm64.bale");
        let p = TreePath::parse("/org/example/hello/2.10/hello-2.10-all.bale.minisig").unwrap();
        assert_eq!(
            (p.file, p.arch.as_deref()),
            (PackageFile::Signature, Some("all"))
        );
        let p = TreePath::parse("/org/example/hello/2.10/hello-2.10-amd64.json").unwrap();
        assert_eq!(
            (p.file, p.arch.as_deref()),
            (PackageFile::Index, Some("amd64"))
        );
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
            "/org/example/hello/2.10/hello-2.10-AMD64.bale",
            "/org/example/hello/2.10/hello-2.10-.bale",
            "/org/example/hello/2.10/hello-2.10-a.b.bale",
            "/org/example/hello/2.10/hello-2.10-amd64.tar",
        ] {
            assert_eq!(
                TreePath::parse(other),
                Err(PathRefusal::NotAPackageFile),
                "{other}"
            );
        }
    }
}
