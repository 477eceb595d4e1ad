//! Upstream release tarballs, as Debian ships them (`<package>_<version>.orig.tar.*`),
//! fetched once with `apt-get source --download-only` and cached.
//!
//! The `deb-src` entries are made from the machine's own apt sources and
//! kept, with the package lists apt downloads for them, in a private
//! directory of the cache: the host's apt state is never changed. The cache
//! (`BALE_TEST_UPSTREAM_CACHE`, default `/var/tmp/bale-upstream-cache`)
//! makes every later run offline.

use std::fs;

use crate::apt::apt_get;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// One fetch at a time: apt locks its lists directory.
static FETCH: Mutex<()> = Mutex::new(());

/// Where upstream tarballs and the private apt state are kept
/// (`BALE_TEST_UPSTREAM_CACHE`, default `/var/tmp/bale-upstream-cache`).
pub fn upstream_cache() -> PathBuf {
    std::env::var_os("BALE_TEST_UPSTREAM_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/bale-upstream-cache"))
}

/// The upstream release tarball of Debian source package `package`, from
/// the cache or fetched into it; panics, with apt's words, when it cannot
/// be had (no network to the mirror on a first run, no such package).
pub fn orig_tarball(package: &str) -> PathBuf {
    assert!(
        !package.is_empty()
            && package
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
            && !package.starts_with('-'),
        "`{package}` is not a Debian source package name"
    );
    let _one = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let dir = upstream_cache().join("orig").join(package);
    if let Some(found) = find_orig(&dir) {
        return found;
    }
    let apt = private_apt();
    let partial = upstream_cache()
        .join("orig")
        .join(format!(".{package}.partial"));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).expect("mkdir the download directory");
    let mut fetched = apt_get(&apt, &partial, &["source", "--download-only", package]);
    if !fetched.0 {
        // The lists may be missing or stale: read them again, once.
        let update = apt_get(&apt, &partial, &["update"]);
        fetched = apt_get(&apt, &partial, &["source", "--download-only", package]);
        assert!(
            fetched.0,
            "apt-get source {package} failed: {}\n(apt-get update said: {})",
            fetched.1, update.1
        );
    }
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&partial, &dir).expect("move the download into the cache");
    find_orig(&dir).unwrap_or_else(|| {
        panic!(
            "{package} has no .orig.tar.* (a Debian-native package?) in {}",
            dir.display()
        )
    })
}

/// Unpacks a release tarball into `dest` (made if missing), without its
/// top directory, as a user unpacking it would find it: times and modes
/// as the tarball has them.
pub fn unpack(tarball: &Path, dest: &Path) {
    fs::create_dir_all(dest).expect("mkdir the unpack directory");
    let out = Command::new("tar")
        .arg("-xf")
        .arg(tarball)
        .arg("-C")
        .arg(dest)
        .args(["--strip-components=1", "--no-same-owner"])
        .output()
        .unwrap_or_else(|e| panic!("running tar (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "tar -xf {}: {}",
        tarball.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn find_orig(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.contains(".orig.tar.") && !n.ends_with(".asc"))
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The `-o` options of an apt whose sources are the machine's `deb`
/// entries turned into `deb-src`, and whose lists and caches live in the
/// upstream cache.
fn private_apt() -> Vec<String> {
    let root = upstream_cache().join("apt");
    let parts = root.join("sources.list.d");
    fs::create_dir_all(&parts).expect("mkdir the private apt directory");
    let (one_line, deb822) = source_entries(Path::new("/etc/apt"));
    fs::write(root.join("sources.list"), one_line).expect("write sources.list");
    fs::write(parts.join("deb-src.sources"), deb822).expect("write deb-src.sources");
    crate::apt::private_options(
        &root,
        vec![
            format!(
                "Dir::Etc::SourceList={}",
                root.join("sources.list").display()
            ),
            format!("Dir::Etc::SourceParts={}", parts.display()),
        ],
    )
}

/// The `deb` entries of the apt configuration under `etc` as `deb-src`
/// ones: the one-line entries, then the deb822 stanzas.
fn source_entries(etc: &Path) -> (String, String) {
    let mut one_line = String::new();
    let mut deb822 = String::new();
    let mut files = vec![etc.join("sources.list")];
    let mut parts: Vec<PathBuf> = fs::read_dir(etc.join("sources.list.d"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    parts.sort();
    files.extend(parts);
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        match file.extension().and_then(|e| e.to_str()) {
            Some("sources") => {
                for stanza in text.split("\n\n") {
                    if let Some(src) = deb822_as_source(stanza) {
                        deb822.push_str(&src);
                        deb822.push('\n');
                    }
                }
            }
            _ if file.file_name() == Some("sources.list".as_ref())
                || file.extension() == Some("list".as_ref()) =>
            {
                for line in text.lines() {
                    if let Some(rest) = line.trim_start().strip_prefix("deb ") {
                        one_line.push_str(&format!("deb-src {rest}\n"));
                    }
                }
            }
            _ => {}
        }
    }
    (one_line, deb822)
}

/// A deb822 stanza whose `Types` include `deb`, with `Types: deb-src`.
fn deb822_as_source(stanza: &str) -> Option<String> {
    let mut out = String::new();
    let mut binary = false;
    for line in stanza.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        match line.split_once(':') {
            Some((key, value)) if key.eq_ignore_ascii_case("types") => {
                binary = value.split_whitespace().any(|t| t == "deb");
                out.push_str("Types: deb-src\n");
            }
            Some((key, value))
                if key.eq_ignore_ascii_case("enabled")
                    && value.trim().eq_ignore_ascii_case("no") =>
            {
                return None;
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    binary.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb_entries_of_both_formats_become_deb_src_and_disabled_ones_do_not() {
        let etc = tempfile_dir();
        fs::create_dir_all(etc.join("sources.list.d")).unwrap();
        fs::write(
            etc.join("sources.list"),
            "deb http://mirror.invalid/debian bookworm main\n# deb http://x.invalid y z\ndeb-src http://s.invalid a b\n",
        )
        .unwrap();
        fs::write(
            etc.join("sources.list.d/debian.sources"),
            "Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm\nComponents: main\n\n\
             Types: deb\nURIs: http://off.invalid\nSuites: x\nComponents: main\nEnabled: no\n",
        )
        .unwrap();
        fs::write(
            etc.join("sources.list.d/other.list.disabled"),
            "deb http://ignored.invalid x main\n",
        )
        .unwrap();
        let (one_line, deb822) = source_entries(&etc);
        assert_eq!(
            one_line,
            "deb-src http://mirror.invalid/debian bookworm main\n"
        );
        assert_eq!(
            deb822,
            "Types: deb-src\nURIs: http://mirror.invalid/debian\nSuites: bookworm\nComponents: main\n\n"
        );
        fs::remove_dir_all(&etc).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "bale-testkit-upstream-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
