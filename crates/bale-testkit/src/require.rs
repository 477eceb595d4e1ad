//! What a test needs from the machine, and what happens when it is missing.

use std::path::PathBuf;

/// Whether the tests run under CI (`CI=true`), where nothing may be left out.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Returns `available`; when it is false, says why the test does not run:
/// under `CI=true` by failing the test with `reason`, elsewhere by printing
/// it, so the caller returns early. Use as
/// `if !require(is_root(), "needs root for …") { return; }`.
pub fn require(available: bool, reason: &str) -> bool {
    if !available {
        // CI must run every test: a missing tool there is a broken setup, not a pass.
        assert!(!in_ci(), "{reason}; under CI=true every test must run");
        eprintln!("not run: {reason}");
    }
    available
}

/// Whether the tests run as root (the sandbox's overlay, debootstrap, network namespaces).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Where the tests keep stack images made by debootstrap
/// (`BALE_TEST_STACK_CACHE`, default `/var/tmp/bale-stack-cache`).
pub fn stack_cache() -> PathBuf {
    std::env::var_os("BALE_TEST_STACK_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/bale-stack-cache"))
}

/// Whether the image of stack `name` is in [`stack_cache`].
pub fn stack_image_cached(name: &str) -> bool {
    stack_cache().join(name).join("stack.json").is_file()
}

/// [`require`]s root and the image of stack `name` in [`stack_cache`], what
/// a build or an app on a Debian stack needs.
pub fn require_stack_image(name: &str) -> bool {
    require(
        is_root() && stack_image_cached(name),
        &format!(
            "needs root and a cached {name} image in {} (the bale-stack tests make it)",
            stack_cache().display()
        ),
    )
}
