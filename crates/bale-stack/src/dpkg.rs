//! The dpkg database of a root file system (a stack image, or a layer's
//! upper directory), read as files: which packages are installed at which
//! version, and which package ships a file of a given name. Reading the
//! files, not running `dpkg-query`, works on any host and over a layer
//! whose database holds only what the layer added.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where dpkg keeps its database, relative to a root.
const ADMINDIR: &str = "var/lib/dpkg";

/// The dpkg database under one root file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgDatabase {
    admindir: PathBuf,
}

/// A file a package ships, found by its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owner {
    /// The Debian package, without an architecture qualifier.
    pub package: String,
    /// The file's absolute path, as the package lists it.
    pub path: String,
}

impl DpkgDatabase {
    /// The database under `root`, when `root` has a dpkg status file.
    pub fn of_root(root: &Path) -> Option<DpkgDatabase> {
        let admindir = root.join(ADMINDIR);
        admindir
            .join("status")
            .is_file()
            .then_some(DpkgDatabase { admindir })
    }

    /// Every installed package and its version, from the status file.
    pub fn installed(&self) -> io::Result<BTreeMap<String, String>> {
        let text = fs::read_to_string(self.admindir.join("status"))?;
        Ok(parse_status(&text))
    }

    /// Every installed package with its version and architecture, sorted by name.
    pub fn packages(&self) -> io::Result<Vec<InstalledPackage>> {
        let text = fs::read_to_string(self.admindir.join("status"))?;
        Ok(parse_packages(&text))
    }

    /// The root's own Debian architecture: `var/lib/dpkg/arch`'s first
    /// line when dpkg keeps one, else the architecture of the installed
    /// `dpkg` package (a root's dpkg is always of its native architecture).
    pub fn architecture(&self) -> io::Result<Option<String>> {
        match fs::read_to_string(self.admindir.join("arch")) {
            Ok(text) => {
                if let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty()) {
                    return Ok(Some(first.to_owned()));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let text = fs::read_to_string(self.admindir.join("status"))?;
        Ok(dpkg_architecture(&text))
    }

    /// For each of `names` (file names, no directory), the packages whose
    /// file lists hold a file of that name, with its path.
    pub fn owners(&self, names: &BTreeSet<String>) -> io::Result<BTreeMap<String, Vec<Owner>>> {
        let mut found: BTreeMap<String, Vec<Owner>> = BTreeMap::new();
        if names.is_empty() {
            return Ok(found);
        }
        let info = self.admindir.join("info");
        let entries = match fs::read_dir(&info) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(e),
        };
        let mut lists: Vec<(String, PathBuf)> = Vec::new();
        for entry in entries {
            let entry = entry?;
            let file_name = entry.file_name();
            let Some(stem) = file_name.to_str().and_then(|n| n.strip_suffix(".list")) else {
                continue;
            };
            // `libc6:amd64.list`: the package is the part before the architecture.
            let package = stem.split(':').next().unwrap_or(stem).to_owned();
            // An overlay's whiteout (a removed list) is a character device, not a file.
            if entry.file_type()?.is_file() {
                lists.push((package, entry.path()));
            }
        }
        lists.sort();
        for (package, path) in lists {
            let text = fs::read_to_string(&path)?;
            for line in text.lines() {
                let name = line.rsplit('/').next().unwrap_or(line);
                if names.contains(name) {
                    found.entry(name.to_owned()).or_default().push(Owner {
                        package: package.clone(),
                        path: line.to_owned(),
                    });
                }
            }
        }
        Ok(found)
    }
}

/// One installed package as the status file records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InstalledPackage {
    /// The package's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its architecture (`amd64`, `all`, …).
    pub arch: String,
}

/// The installed packages of a dpkg status file, with their architecture.
fn parse_packages(text: &str) -> Vec<InstalledPackage> {
    let mut found = BTreeMap::new();
    for paragraph in text.split("\n\n") {
        let field = |name: &str| {
            paragraph
                .lines()
                .find_map(|l| l.strip_prefix(name).map(str::trim))
        };
        let installed = field("Status: ").is_some_and(|s| s.ends_with(" installed"));
        if let (Some(name), Some(version), true) =
            (field("Package: "), field("Version: "), installed)
        {
            let arch = field("Architecture: ").unwrap_or("all");
            found
                .entry(name.to_owned())
                .or_insert_with(|| InstalledPackage {
                    name: name.to_owned(),
                    version: version.to_owned(),
                    arch: arch.to_owned(),
                });
        }
    }
    found.into_values().collect()
}

/// The installed packages of a dpkg status file and their versions.
fn parse_status(text: &str) -> BTreeMap<String, String> {
    let mut installed = BTreeMap::new();
    for paragraph in text.split("\n\n") {
        let (mut package, mut version, mut ok) = (None, None, false);
        for line in paragraph.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                package = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                ok = v.trim().ends_with(" installed");
            }
        }
        if let (Some(package), Some(version), true) = (package, version, ok) {
            installed
                .entry(package.to_owned())
                .or_insert_with(|| version.to_owned());
        }
    }
    installed
}

/// The `Architecture` of the installed `dpkg` package in a status file.
fn dpkg_architecture(text: &str) -> Option<String> {
    text.split("\n\n").find_map(|paragraph| {
        let mut lines = paragraph.lines();
        lines
            .clone()
            .any(|l| l.trim_end() == "Package: dpkg")
            .then(|| {
                lines
                    .find_map(|l| l.strip_prefix("Architecture: "))
                    .map(|a| a.trim().to_owned())
            })?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_architecture_is_dpkgs_own() {
        let status = "Package: libc6\nStatus: install ok installed\nArchitecture: i386\nVersion: 2.36\n\n\
                      Package: dpkg\nStatus: install ok installed\nArchitecture: arm64\nVersion: 1.21.22\n";
        assert_eq!(dpkg_architecture(status).as_deref(), Some("arm64"));
        assert_eq!(
            dpkg_architecture("Package: bash\nArchitecture: amd64\n"),
            None
        );
    }

    #[test]
    fn only_installed_packages_are_listed_with_their_version() {
        let status = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u7\n\n\
                      Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
                      Package: hello\nStatus: install ok installed\nVersion: 2.10-3\nDescription: hi\n there\n";
        let installed = parse_status(status);
        assert_eq!(
            installed.into_iter().collect::<Vec<_>>(),
            vec![
                ("hello".to_owned(), "2.10-3".to_owned()),
                ("libc6".to_owned(), "2.36-9+deb12u7".to_owned())
            ]
        );
    }

    #[test]
    fn installed_packages_carry_their_architecture() {
        let status = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9\n\n\
                      Package: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2024a-0\n\n\
                      Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n";
        let packages = parse_packages(status);
        assert_eq!(
            packages,
            vec![
                InstalledPackage {
                    name: "libc6".into(),
                    version: "2.36-9".into(),
                    arch: "amd64".into()
                },
                InstalledPackage {
                    name: "tzdata".into(),
                    version: "2024a-0".into(),
                    arch: "all".into()
                },
            ]
        );
    }

    #[test]
    fn a_file_name_is_traced_to_the_package_that_lists_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let info = dir.path().join(ADMINDIR).join("info");
        fs::create_dir_all(&info).expect("mkdir");
        fs::write(dir.path().join(ADMINDIR).join("status"), "").expect("status");
        fs::write(
            info.join("libc6:amd64.list"),
            "/.\n/lib/x86_64-linux-gnu/libc.so.6\n",
        )
        .expect("list");
        fs::write(
            info.join("libc6-dbg:amd64.list"),
            "/usr/lib/debug/libc.so.6.gdb\n",
        )
        .expect("list");
        let db = DpkgDatabase::of_root(dir.path()).expect("a database");
        let names: BTreeSet<String> = ["libc.so.6".to_owned(), "libnone.so.1".to_owned()].into();
        let owners = db.owners(&names).expect("read");
        assert_eq!(
            owners.get("libc.so.6"),
            Some(&vec![Owner {
                package: "libc6".into(),
                path: "/lib/x86_64-linux-gnu/libc.so.6".into()
            }])
        );
        assert!(!owners.contains_key("libnone.so.1"));
        assert!(DpkgDatabase::of_root(&dir.path().join("nothing")).is_none());
    }
}
