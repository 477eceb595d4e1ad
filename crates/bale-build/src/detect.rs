//! The runtime closure: every shared library a package needs and does not
//! ship, traced to the Debian package of the build environment (the build
//! layer over the stack) that provides it, with the version installed there.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;

use bale_layer::{DpkgDatabase, Owner};

/// What was found for a package's needed libraries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Detection {
    /// `name=version` of each providing Debian package, sorted, once each.
    pub packages: Vec<String>,
    /// The libraries no installed package provides, each with the files
    /// that need it.
    pub unresolved: Vec<Unresolved>,
}

/// A needed library that nothing in the environment provides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The soname, e.g. `libgreet.so.1`.
    pub library: String,
    /// The package's files that need it, relative to the package root.
    pub needed_by: Vec<String>,
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, needed by {}",
            self.library,
            self.needed_by.join(", ")
        )
    }
}

/// Traces each needed soname (with the files needing it) to the Debian
/// package that ships a file of that name in the dpkg databases under
/// `roots`, top first (a layer's upper directory, then the stack's root).
///
/// A package's version is the one the topmost database holding it records
/// (a layer's status file is a whole copy, updated by what it installed).
/// Where several packages ship the name, one that puts it in a directory
/// the dynamic loader searches wins, then the first by name.
pub fn detect_packages(
    needed: &BTreeMap<String, Vec<String>>,
    roots: &[PathBuf],
) -> io::Result<Detection> {
    if needed.is_empty() {
        return Ok(Detection::default());
    }
    let databases: Vec<DpkgDatabase> = roots
        .iter()
        .filter_map(|r| DpkgDatabase::of_root(r))
        .collect();
    let mut installed: BTreeMap<String, String> = BTreeMap::new();
    for db in &databases {
        for (name, version) in db.installed()? {
            installed.entry(name).or_insert(version);
        }
    }
    let names: BTreeSet<String> = needed.keys().cloned().collect();
    let mut owners: BTreeMap<String, Vec<Owner>> = BTreeMap::new();
    for db in &databases {
        for (name, found) in db.owners(&names)? {
            owners.entry(name).or_default().extend(found);
        }
    }
    let mut packages = BTreeSet::new();
    let mut unresolved = Vec::new();
    for (library, files) in needed {
        let best = owners
            .get(library)
            .into_iter()
            .flatten()
            .filter(|o| installed.contains_key(&o.package))
            .min_by_key(|o| (!in_loader_path(&o.path), o.package.clone()));
        match best.and_then(|o| installed.get(&o.package).map(|v| (o, v))) {
            Some((owner, version)) => {
                packages.insert(format!("{}={version}", owner.package));
            }
            None => unresolved.push(Unresolved {
                library: library.clone(),
                needed_by: files.clone(),
            }),
        }
    }
    Ok(Detection {
        packages: packages.into_iter().collect(),
        unresolved,
    })
}

/// Whether `path` is in one of the directories the dynamic loader searches
/// on Debian: `/lib`, `/usr/lib`, their `lib64` and multiarch subdirectories.
fn in_loader_path(path: &str) -> bool {
    let Some((dir, _)) = path.rsplit_once('/') else {
        return false;
    };
    let dir = dir.strip_prefix("/usr").unwrap_or(dir);
    match dir.strip_prefix("/lib") {
        Some("" | "64" | "32") => true,
        Some(rest) => rest
            .strip_prefix('/')
            .is_some_and(|triplet| !triplet.contains('/') && triplet.contains("-linux-")),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::Path;

    /// A root with a dpkg database holding `packages`: (name, version, files).
    fn root(dir: &Path, packages: &[(&str, &str, &[&str])]) -> PathBuf {
        let admin = dir.join("var/lib/dpkg");
        fs::create_dir_all(admin.join("info")).expect("mkdir");
        let mut status = String::new();
        for (name, version, files) in packages {
            status.push_str(&format!(
                "Package: {name}\nStatus: install ok installed\nVersion: {version}\n\n"
            ));
            fs::write(
                admin.join("info").join(format!("{name}:amd64.list")),
                files.join("\n"),
            )
            .expect("list");
        }
        fs::write(admin.join("status"), status).expect("status");
        dir.to_path_buf()
    }

    fn needed(items: &[(&str, &str)]) -> BTreeMap<String, Vec<String>> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (lib, file) in items {
            map.entry(lib.to_string())
                .or_default()
                .push(file.to_string());
        }
        map
    }

    #[test]
    fn a_library_from_the_layer_and_one_from_the_stack_are_both_recorded_with_their_versions() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stack = root(
            &dir.path().join("stack"),
            &[(
                "libc6",
                "2.36-9+deb12u7",
                &["/lib/x86_64-linux-gnu/libc.so.6"],
            )],
        );
        // The layer's status is a whole copy: the stack's packages and its own.
        let layer = root(
            &dir.path().join("layer"),
            &[
                (
                    "libxml2",
                    "2.9.14+dfsg-1.3~deb12u1",
                    &["/usr/lib/x86_64-linux-gnu/libxml2.so.2"],
                ),
                (
                    "libxml2-dev",
                    "2.9.14+dfsg-1.3~deb12u1",
                    &["/usr/share/doc/libxml2.so.2"],
                ),
            ],
        );
        fs::write(
            layer.join("var/lib/dpkg/status"),
            "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u7\n\n\
             Package: libxml2\nStatus: install ok installed\nVersion: 2.9.14+dfsg-1.3~deb12u1\n\n\
             Package: libxml2-dev\nStatus: install ok installed\nVersion: 2.9.14+dfsg-1.3~deb12u1\n",
        )
        .expect("status");
        let found = detect_packages(
            &needed(&[("libc.so.6", "bin/x"), ("libxml2.so.2", "bin/x")]),
            &[layer, stack],
        )
        .expect("read");
        assert_eq!(
            found.packages,
            vec![
                "libc6=2.36-9+deb12u7".to_owned(),
                "libxml2=2.9.14+dfsg-1.3~deb12u1".to_owned()
            ]
        );
        assert!(found.unresolved.is_empty());
    }

    #[test]
    fn a_library_nothing_provides_is_named_with_the_files_that_need_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stack = root(
            dir.path(),
            &[("libc6", "2.36", &["/lib/x86_64-linux-gnu/libc.so.6"])],
        );
        let found = detect_packages(
            &needed(&[("libgreet.so.1", "bin/hello"), ("libgreet.so.1", "bin/hi")]),
            &[stack],
        )
        .expect("read");
        assert!(found.packages.is_empty());
        assert_eq!(
            found.unresolved,
            vec![Unresolved {
                library: "libgreet.so.1".into(),
                needed_by: vec!["bin/hello".into(), "bin/hi".into()]
            }]
        );
        assert_eq!(
            found.unresolved[0].to_string(),
            "libgreet.so.1, needed by bin/hello, bin/hi"
        );
    }

    #[test]
    fn the_hosts_libc_is_found_in_the_hosts_database() {
        let found =
            detect_packages(&needed(&[("libc.so.6", "bin/x")]), &["/".into()]).expect("read");
        assert!(found.packages[0].starts_with("libc6="), "{found:?}");
    }

    #[test]
    fn the_loaders_directories_are_told_from_others() {
        for yes in [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libxml2.so.2",
            "/usr/lib/libfoo.so.1",
            "/lib64/ld-linux-x86-64.so.2",
        ] {
            assert!(in_loader_path(yes), "{yes}");
        }
        for no in [
            "/usr/lib/debug/libc.so.6",
            "/usr/share/doc/libxml2.so.2",
            "/usr/lib/x86_64-linux-gnu/perl/libfoo.so",
        ] {
            assert!(!in_loader_path(no), "{no}");
        }
    }
}
