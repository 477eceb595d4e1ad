//! The package store: `$BALE_HOME/pkgs/<group as path>/<name>/<version>/`.
//!
//! A package directory is either complete or absent: packages are unpacked
//! into a scratch directory on the same file system, made read-only, synced
//! and renamed into place. One coordinate is one set of bytes: installing a
//! different package under an installed coordinate is refused.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bale_archive::{Index, Limits};
use bale_coordinate::Coordinate;
use bale_home::Home;

use crate::package_file::{Head, PackageFile};
use crate::staging::{self, Staging, READ_ONLY_DIR};
use crate::verify::{self, VerifyReport};
use crate::StoreError;

/// Where the index lives inside a package root.
pub(crate) const INDEX_PATH: &str = ".bale/index.json";
/// Where the manifest lives inside a package root.
pub(crate) const MANIFEST_PATH: &str = ".bale/manifest.toml";

/// How to install.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallOptions {
    /// Install even when the signature is missing or does not verify.
    pub allow_unsigned: bool,
}

/// What [`Store::install`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallOutcome {
    /// The package was unpacked into the store.
    Installed,
    /// The same package was already installed; nothing was written.
    AlreadyPresent,
}

/// An installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// Its coordinate.
    pub coordinate: Coordinate,
    /// Its directory in the store.
    pub dir: PathBuf,
    /// Whether this call installed it or found it there.
    pub outcome: InstallOutcome,
}

/// The installed packages of one `$BALE_HOME`.
#[derive(Debug, Clone)]
pub struct Store {
    home: Home,
    limits: Limits,
}

impl Store {
    /// The store of `home`.
    pub fn new(home: Home) -> Store {
        Store {
            home,
            limits: Limits::default(),
        }
    }

    /// The store with other bounds on what reading an archive may cost.
    pub fn with_limits(self, limits: Limits) -> Store {
        Store { limits, ..self }
    }

    /// The home this store lives in.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// Installs the package file at `archive`: checks its signature, then
    /// unpacks it into its directory atomically. Installing the same package
    /// again is a no-op; a different package under the same coordinate is refused.
    pub fn install(&self, archive: &Path, opts: &InstallOptions) -> Result<Installed, StoreError> {
        let mut file = PackageFile::open(archive)?;
        if let Err(error) = file.check_signature(&self.home.trusted_keys_dir()) {
            let refusal = matches!(
                error,
                StoreError::Unsigned { .. } | StoreError::Signature { .. } | StoreError::Keyring(_)
            );
            if !(refusal && opts.allow_unsigned) {
                return Err(error);
            }
        }

        let head = file.head(&self.limits)?;
        let coordinate = coordinate_of(&head.index, file.path())?;
        let machine = bale_inspect::machine_arch();
        if !head.index.runs_on(machine) {
            return Err(StoreError::ForeignArch {
                coordinate: coordinate.to_string(),
                arch: head.index.arch().to_owned(),
                machine: machine.to_owned(),
            });
        }
        let dir = self.home.package_dir(&coordinate);
        self.check_not_nested(&coordinate, &dir)?;
        if let Some(found) = self.compare_installed(&coordinate, &dir, &head)? {
            return Ok(found);
        }

        let staging = Staging::new(&self.home.tmp_dir(), "install")?;
        let root = staging.path().join("root");
        fs::create_dir(&root).map_err(|e| StoreError::io(&root, e))?;
        let unpacked = file.unpack(&root, &self.limits)?;
        if unpacked.index != head.index || unpacked.manifest_toml != head.manifest_toml {
            // The reader checks entries against the index it unpacks; a
            // different index than the one read first means the file changed.
            return Err(StoreError::Archive {
                archive: archive.to_owned(),
                source: bale_archive::ArchiveError::Index(
                    "the package changed while it was being installed; install it again".into(),
                ),
            });
        }
        seal(&root)?;

        let parent = dir.parent().unwrap_or(&dir);
        fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        match fs::rename(&root, &dir) {
            Ok(()) => {}
            Err(e) if is_occupied(&e) => {
                // Another install of this coordinate won the race.
                if let Some(found) = self.compare_installed(&coordinate, &dir, &head)? {
                    return Ok(found);
                }
                return Err(StoreError::io(&dir, e));
            }
            Err(e) => return Err(StoreError::io(&dir, e)),
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(READ_ONLY_DIR))
            .map_err(|e| StoreError::io(&dir, e))?;
        bale_fs::sync_dir(&dir)?;
        bale_fs::sync_dir(parent)?;
        Ok(Installed {
            coordinate,
            dir,
            outcome: InstallOutcome::Installed,
        })
    }

    /// Re-checks an installed package against its `.bale/index.json`.
    pub fn verify(&self, coordinate: &Coordinate) -> Result<VerifyReport, StoreError> {
        let dir = self.installed_dir(coordinate)?;
        let index = read_installed_index(&dir)?;
        verify::walk(coordinate.clone(), &dir, &index)
    }

    /// Every installed package, sorted by coordinate.
    pub fn list(&self) -> Result<Vec<Coordinate>, StoreError> {
        let pkgs = self.home.pkgs_dir();
        let mut found = Vec::new();
        match fs::symlink_metadata(&pkgs) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(StoreError::io(&pkgs, e)),
            Ok(_) => {}
        }
        collect_packages(&pkgs, &mut Vec::new(), &mut found)?;
        found.sort();
        Ok(found)
    }

    /// Removes an installed package: it is renamed out of `pkgs/` first, so it
    /// disappears at once and whole, then deleted.
    pub fn remove(&self, coordinate: &Coordinate) -> Result<(), StoreError> {
        let dir = self.installed_dir(coordinate)?;
        let staging = Staging::new(&self.home.tmp_dir(), "remove")?;
        let away = staging.path().join("root");
        // Renaming a directory to another parent needs write access to it (its `..` changes).
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))
            .map_err(|e| StoreError::io(&dir, e))?;
        if let Err(e) = fs::rename(&dir, &away) {
            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(READ_ONLY_DIR));
            return Err(StoreError::io(&dir, e));
        }
        if let Some(parent) = dir.parent() {
            bale_fs::sync_dir(parent)?;
        }
        bale_fs::remove_read_only_tree(staging.path())?;
        Ok(())
    }

    /// The directory of an installed package, or why there is none.
    fn installed_dir(&self, coordinate: &Coordinate) -> Result<PathBuf, StoreError> {
        let dir = self.home.package_dir(coordinate);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(StoreError::NotAPackage { dir }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotInstalled {
                    coordinate: coordinate.clone(),
                })
            }
            Err(e) => return Err(StoreError::io(&dir, e)),
        }
        if !dir.join(INDEX_PATH).is_file() {
            return Err(StoreError::NotAPackage { dir });
        }
        Ok(dir)
    }

    /// If `dir` is installed: the same package gives `Some(AlreadyPresent)`, a different one an error.
    fn compare_installed(
        &self,
        coordinate: &Coordinate,
        dir: &Path,
        head: &Head,
    ) -> Result<Option<Installed>, StoreError> {
        match fs::symlink_metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(dir, e)),
            Ok(_) => {}
        }
        let installed_bytes = match fs::read(dir.join(INDEX_PATH)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotAPackage {
                    dir: dir.to_owned(),
                })
            }
            Err(e) => return Err(StoreError::io(dir.join(INDEX_PATH), e)),
        };
        // The installed bytes are the archive's, which need not be canonical:
        // the same package is the same index, so canonical forms are compared.
        let installed_index = bale_archive::Index::from_json(&installed_bytes, &self.limits)
            .and_then(|index| index.to_json())
            .map_err(|source| StoreError::InstalledIndex {
                path: dir.join(INDEX_PATH),
                source,
            })?;
        let installed_manifest = fs::read(dir.join(MANIFEST_PATH))
            .map_err(|e| StoreError::io(dir.join(MANIFEST_PATH), e))?;
        let index = head
            .index
            .to_json()
            .map_err(|source| StoreError::InstalledIndex {
                path: dir.join(INDEX_PATH),
                source,
            })?;
        if installed_index == index && installed_manifest == head.manifest_toml {
            Ok(Some(Installed {
                coordinate: coordinate.clone(),
                dir: dir.to_owned(),
                outcome: InstallOutcome::AlreadyPresent,
            }))
        } else {
            Err(StoreError::Conflict {
                coordinate: coordinate.clone(),
                dir: dir.to_owned(),
            })
        }
    }

    /// Refuses a package whose directory would be inside another installed package.
    fn check_not_nested(&self, coordinate: &Coordinate, dir: &Path) -> Result<(), StoreError> {
        let pkgs = self.home.pkgs_dir();
        let mut ancestor = dir.parent();
        while let Some(path) = ancestor {
            if path == pkgs || !path.starts_with(&pkgs) {
                break;
            }
            if path.join(INDEX_PATH).is_file() {
                return Err(StoreError::Nested {
                    coordinate: coordinate.clone(),
                    dir: dir.to_owned(),
                    inside: path.to_owned(),
                });
            }
            ancestor = path.parent();
        }
        Ok(())
    }
}

/// The coordinate an index names.
fn coordinate_of(index: &Index, archive: &Path) -> Result<Coordinate, StoreError> {
    index
        .coordinate
        .parse()
        .map_err(|source| StoreError::Coordinate {
            archive: archive.to_owned(),
            source,
        })
}

/// Whether a rename failed because the target directory exists and is not empty.
fn is_occupied(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty
    )
}

/// Makes every directory below `root` read-only and syncs the tree's directories.
///
/// `root` itself stays writable until it is in place: moving a directory to
/// another parent needs write access to it.
fn seal(root: &Path) -> Result<(), StoreError> {
    bale_fs::sync_tree(root)?;
    for entry in fs::read_dir(root).map_err(|e| StoreError::io(root, e))? {
        let entry = entry.map_err(|e| StoreError::io(root, e))?;
        let is_dir = entry
            .file_type()
            .map_err(|e| StoreError::io(entry.path(), e))?
            .is_dir();
        if is_dir {
            staging::set_dir_modes(&entry.path(), READ_ONLY_DIR)
                .map_err(|e| StoreError::io(entry.path(), e))?;
        }
    }
    Ok(())
}

/// Reads an installed package's own index.
pub(crate) fn read_installed_index(dir: &Path) -> Result<Index, StoreError> {
    let path = dir.join(INDEX_PATH);
    let bytes = fs::read(&path).map_err(|e| StoreError::io(&path, e))?;
    Index::from_json(&bytes, &Limits::default())
        .map_err(|source| StoreError::InstalledIndex { path, source })
}

/// Walks `dir` (at `parts` below `pkgs/`) for package roots, which are not descended into.
fn collect_packages(
    dir: &Path,
    parts: &mut Vec<String>,
    found: &mut Vec<Coordinate>,
) -> Result<(), StoreError> {
    if parts.len() >= 3 && dir.join(INDEX_PATH).is_file() {
        let (group, rest) = parts.split_at(parts.len() - 2);
        if let Ok(coordinate) = Coordinate::new(&group.join("."), &rest[0], &rest[1]) {
            found.push(coordinate);
            return Ok(());
        }
    }
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| StoreError::io(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.')
            || !entry
                .file_type()
                .map_err(|e| StoreError::io(entry.path(), e))?
                .is_dir()
        {
            continue;
        }
        parts.push(name);
        collect_packages(&entry.path(), parts, found)?;
        parts.pop();
    }
    Ok(())
}
