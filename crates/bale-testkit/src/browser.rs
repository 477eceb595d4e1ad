//! Pages as Debian's Chromium renders them, scripts run.

use std::process::Command;

/// The Chromium on this machine, if any.
pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The DOM of `url` after headless Chromium loaded it and ran its scripts
/// for `budget_ms` of virtual time; `None` (said) without Chromium, and a
/// failed test under `CI=true` (see [`crate::require`]).
pub fn dump_dom(url: &str, budget_ms: u32) -> Option<String> {
    let browser = chromium();
    if !crate::require(
        browser.is_some(),
        "chromium is not installed (scripts/setup installs it)",
    ) {
        return None;
    }
    let profile = std::env::temp_dir().join(format!(
        "bale-testkit-chromium-{}-{}",
        std::process::id(),
        crate::free_port()
    ));
    let output = Command::new(browser?)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .arg("--dump-dom")
        .arg(url)
        .output();
    let _ = std::fs::remove_dir_all(&profile);
    let output = output.expect("running chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}
