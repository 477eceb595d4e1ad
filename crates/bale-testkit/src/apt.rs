//! An apt of the tests' own: the machine's configuration (its mirrors and
//! CA bundle), with lists and caches in a directory of the test caches, so
//! nothing of the machine's apt state is read or changed.

use std::fs;
use std::path::Path;
use std::process::Command;

/// The `-o` options that keep apt's lists and caches under `root` (made
/// here), followed by `extra` options.
pub(crate) fn private_options(root: &Path, extra: Vec<String>) -> Vec<String> {
    let lists = root.join("lists");
    for dir in [&lists.join("partial"), &root.join("cache/archives/partial")] {
        fs::create_dir_all(dir).expect("mkdir the private apt directory");
    }
    extra
        .into_iter()
        .chain([
            format!("Dir::State::Lists={}", lists.display()),
            format!("Dir::Cache={}", root.join("cache").display()),
            // apt's own download user cannot write into a root-owned cache.
            "APT::Sandbox::User=root".to_owned(),
        ])
        .flat_map(|o| ["-o".to_owned(), o])
        .collect()
}

/// Runs `apt-get` with the options `apt` in `cwd`; whether it succeeded,
/// and what it said on standard error.
pub(crate) fn apt_get(apt: &[String], cwd: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("apt-get")
        .args(["-q", "-y"])
        .args(apt)
        .args(args)
        .current_dir(cwd)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap_or_else(|e| panic!("running apt-get (is this Debian?): {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
