//! A stack's identity by content: what decides what a build over it sees.
//!
//! Two debootstraps of the same suite are never byte-identical (logs,
//! `/etc/shadow`'s dates, generated caches), so the image's byte digest
//! cannot be what a package's index or a layer's key names: the same
//! source would build to different bytes on two machines. The identity is
//! `sha256:` and the hex SHA-256 of this text, every line ending in `\n`:
//!
//! ```text
//! bale stack identity 1
//! suite bookworm
//! arch amd64
//! package adduser=3.134
//! package apt=2.6.1
//! ```
//!
//! one `package` line per package the image's dpkg status file holds as
//! installed, `name=version`, sorted bytewise. docs/package.md gives the
//! same recipe.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::dpkg::DpkgDatabase;
use crate::StackError;

/// The first line of the identity text; changed if the recipe ever changes.
const RECIPE: &str = "bale stack identity 1";

/// What identifies a stack image by content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackIdentity {
    /// `sha256:<hex>` of [`identity_text`].
    pub identity: String,
    /// The image's Debian architecture (its `dpkg`'s).
    pub arch: String,
    /// Installed packages, `name=version`, sorted bytewise.
    pub packages: Vec<String>,
}

/// The canonical text an identity hashes.
pub fn identity_text(suite: &str, arch: &str, packages: &[String]) -> String {
    let mut sorted: Vec<&String> = packages.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut text = format!("{RECIPE}\nsuite {suite}\narch {arch}\n");
    for p in sorted {
        text.push_str("package ");
        text.push_str(p);
        text.push('\n');
    }
    text
}

/// `sha256:` and the hex SHA-256 of [`identity_text`].
pub fn identity_of(suite: &str, arch: &str, packages: &[String]) -> String {
    let text = identity_text(suite, arch, packages);
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// The installed packages of the image at `root`, `name=version`, sorted
/// bytewise, read from its dpkg status file.
pub fn installed_packages(root: &Path) -> Result<Vec<String>, StackError> {
    let db = database(root)?;
    let installed = db.installed().map_err(|source| StackError::Io {
        path: root.join("var/lib/dpkg/status"),
        source,
    })?;
    let mut packages: Vec<String> = installed
        .into_iter()
        .map(|(name, version)| format!("{name}={version}"))
        .collect();
    packages.sort();
    Ok(packages)
}

/// The identity of the image at `root`, made of Debian suite `suite`.
pub fn image_identity(root: &Path, suite: &str) -> Result<StackIdentity, StackError> {
    let db = database(root)?;
    let arch = db
        .architecture()
        .map_err(|source| StackError::Io {
            path: root.join("var/lib/dpkg"),
            source,
        })?
        .ok_or_else(|| StackError::NoPackageDatabase {
            root: root.to_path_buf(),
        })?;
    let packages = installed_packages(root)?;
    Ok(StackIdentity {
        identity: identity_of(suite, &arch, &packages),
        arch,
        packages,
    })
}

fn database(root: &Path) -> Result<DpkgDatabase, StackError> {
    DpkgDatabase::of_root(root).ok_or_else(|| StackError::NoPackageDatabase {
        root: root.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_text_is_the_documented_recipe_in_any_package_order() {
        let text = identity_text(
            "bookworm",
            "amd64",
            &strings(&["libc6-dev=2.36", "apt=2.6.1", "libc6=2.36"]),
        );
        assert_eq!(
            text,
            "bale stack identity 1\nsuite bookworm\narch amd64\n\
             package apt=2.6.1\npackage libc6-dev=2.36\npackage libc6=2.36\n"
        );
        assert_eq!(
            identity_of("bookworm", "amd64", &strings(&["a=1", "b=2"])),
            identity_of("bookworm", "amd64", &strings(&["b=2", "a=1"]))
        );
    }

    #[test]
    fn suite_architecture_and_every_version_change_the_identity() {
        let base = identity_of("bookworm", "amd64", &strings(&["apt=2.6.1"]));
        assert!(base.starts_with("sha256:") && base.len() == 71, "{base}");
        for other in [
            identity_of("trixie", "amd64", &strings(&["apt=2.6.1"])),
            identity_of("bookworm", "arm64", &strings(&["apt=2.6.1"])),
            identity_of("bookworm", "amd64", &strings(&["apt=2.6.2"])),
            identity_of("bookworm", "amd64", &strings(&["apt=2.6.1", "curl=7"])),
        ] {
            assert_ne!(base, other);
        }
    }

    #[test]
    fn an_image_is_identified_by_its_dpkg_status_alone() {
        let image = |extra: &str| {
            let dir = tempfile::tempdir().expect("tempdir");
            let admin = dir.path().join("var/lib/dpkg");
            std::fs::create_dir_all(&admin).expect("mkdir");
            std::fs::write(
                admin.join("status"),
                "Package: dpkg\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.21.22\n\n\
                 Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
            )
            .expect("status");
            std::fs::write(dir.path().join("var/log.txt"), extra).expect("a log");
            dir
        };
        let (a, b) = (image("one"), image("another"));
        let ia = image_identity(a.path(), "bookworm").expect("identity");
        assert_eq!(ia.arch, "amd64");
        assert_eq!(ia.packages, strings(&["dpkg=1.21.22"]));
        assert_eq!(ia, image_identity(b.path(), "bookworm").expect("identity"));
        let none = tempfile::tempdir().expect("tempdir");
        assert!(matches!(
            image_identity(none.path(), "bookworm"),
            Err(StackError::NoPackageDatabase { .. })
        ));
    }
}
