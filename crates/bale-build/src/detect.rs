//! Detected dependencies: the stack's Debian packages that provide the
//! shared libraries a package needs but does not ship.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// What was found for a set of needed libraries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Detection {
    /// Debian package names, sorted, without architecture qualifiers.
    pub packages: Vec<String>,
    /// Sonames no installed package of the stack provides.
    pub unresolved: Vec<String>,
}

/// Maps each needed soname to the Debian package of the stack rooted at
/// `stack_root` that ships it, with `dpkg-query -S` over that root's database.
///
/// A stack without a dpkg database (or a machine without dpkg-query) leaves
/// every soname unresolved rather than failing: detection is a fact to
/// record, not a gate.
pub fn detect_packages(needed: &BTreeSet<String>, stack_root: &Path) -> Detection {
    let admindir = stack_root.join("var/lib/dpkg");
    let mut packages = BTreeSet::new();
    let mut unresolved = Vec::new();
    if needed.is_empty() {
        return Detection::default();
    }
    if !admindir.join("status").is_file() {
        return Detection {
            packages: Vec::new(),
            unresolved: needed.iter().cloned().collect(),
        };
    }
    for soname in needed {
        let output = Command::new("dpkg-query")
            .arg(format!("--admindir={}", admindir.display()))
            .arg("-S")
            .arg(format!("*/{soname}"))
            .output();
        let found = match output {
            Ok(out) if out.status.success() => {
                owners(&String::from_utf8_lossy(&out.stdout), soname)
            }
            _ => Vec::new(),
        };
        match found.into_iter().next() {
            Some(pkg) => {
                packages.insert(pkg);
            }
            None => unresolved.push(soname.clone()),
        }
    }
    Detection {
        packages: packages.into_iter().collect(),
        unresolved,
    }
}

/// Parses `dpkg-query -S` lines (`pkg[:arch][, pkg2]: /path`) for an exact file name.
fn owners(listing: &str, soname: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in listing.lines() {
        let Some((pkgs, path)) = line.split_once(": ") else {
            continue;
        };
        if !path.trim().ends_with(&format!("/{soname}")) {
            continue;
        }
        for pkg in pkgs.split(", ") {
            let name = pkg.split(':').next().unwrap_or(pkg).trim();
            if !name.is_empty() && !found.iter().any(|f| f == name) {
                found.push(name.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_listing_lines_name_the_owner_without_architecture() {
        let listing = "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6\nlibc6-dbg:amd64: /usr/lib/debug/libc.so.6.gdb\n";
        assert_eq!(owners(listing, "libc.so.6"), vec!["libc6".to_owned()]);
    }

    #[test]
    fn the_hosts_libc_is_found_in_the_hosts_database() {
        let needed: BTreeSet<String> =
            ["libc.so.6".to_owned(), "libdoesnotexist.so.9".to_owned()].into();
        let found = detect_packages(&needed, Path::new("/"));
        assert_eq!(found.packages, vec!["libc6".to_owned()]);
        assert_eq!(found.unresolved, vec!["libdoesnotexist.so.9".to_owned()]);
    }
}
