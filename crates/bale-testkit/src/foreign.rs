//! Real ELF files of another architecture than this machine's: the static
//! busybox of Debian's `busybox-static` for that architecture, downloaded
//! once with `apt-get download` and unpacked with `dpkg-deb -x`.
//!
//! apt runs with the machine's own sources but a private configuration
//! (`APT::Architecture`, lists, caches) kept in the cache directory
//! (`BALE_TEST_FOREIGN_CACHE`, default `/var/tmp/bale-foreign-cache`): the
//! host's apt state and architectures are never changed, and later runs are
//! offline.

use std::fs;

use crate::apt::apt_get;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

/// One download at a time: apt locks its lists directory.
static FETCH: Mutex<()> = Mutex::new(());

/// Where the foreign files and the private apt state are kept.
pub fn foreign_cache() -> PathBuf {
    std::env::var_os("BALE_TEST_FOREIGN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/bale-foreign-cache"))
}

/// A static busybox built for Debian architecture `arch` (`arm64`, …), from
/// the cache or downloaded into it; panics, with apt's words, when it cannot
/// be had (no network to the mirror on a first run).
pub fn static_busybox(arch: &str) -> PathBuf {
    assert!(
        !arch.is_empty()
            && arch
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "`{arch}` is not a Debian architecture name"
    );
    let _one = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    let done = foreign_cache().join(arch).join("busybox");
    if done.is_file() {
        return done;
    }
    let apt = private_apt(arch);
    let work = foreign_cache().join(format!(".{arch}.partial"));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).expect("mkdir the download directory");
    let mut fetched = apt_get(&apt, &work, &["download", "busybox-static"]);
    if !fetched.0 {
        let update = apt_get(&apt, &work, &["update"]);
        fetched = apt_get(&apt, &work, &["download", "busybox-static"]);
        assert!(
            fetched.0,
            "apt-get download busybox-static ({arch}) failed: {}\n(apt-get update said: {})",
            fetched.1, update.1
        );
    }
    let deb = fs::read_dir(&work)
        .expect("read the download directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("apt-get download left a .deb");
    let root = work.join("root");
    let out = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .output()
        .expect("running dpkg-deb");
    assert!(
        out.status.success(),
        "dpkg-deb -x failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::create_dir_all(done.parent().expect("a parent")).expect("mkdir the cache");
    fs::copy(root.join("bin/busybox"), &done).expect("keep bin/busybox");
    let _ = fs::remove_dir_all(&work);
    done
}

/// The `-o` options of an apt for `arch` with the machine's sources and a
/// private state.
fn private_apt(arch: &str) -> Vec<String> {
    crate::apt::private_options(
        &foreign_cache().join(format!("apt-{arch}")),
        vec![
            format!("APT::Architecture={arch}"),
            format!("APT::Architectures::={arch}"),
            // Nothing is installed for this architecture; the host's dpkg status is not read.
            "Dir::State::Status=/dev/null".to_owned(),
        ],
    )
}
