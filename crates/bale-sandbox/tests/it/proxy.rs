//! The host's proxy and registry settings pass into a networked sandbox only.
//! (Run in a process of its own: the settings are its environment.)

use crate::common;

use bale_sandbox::SandboxSpec;
use common::{run, sh};

#[test]
fn proxy_and_registry_variables_pass_through_only_with_the_network() {
    bale_testkit::run_child_test(
        "proxy::with_the_hosts_proxy_settings",
        &[
            ("https_proxy", "http://proxy.invalid:3128"),
            ("PIP_INDEX_URL", "https://pypi.invalid/simple"),
            ("npm_config_registry", "https://npm.invalid/"),
        ],
    );
}

/// The body of the test above, in a process whose environment has the settings.
#[test]
#[ignore = "started as a child process by proxy_and_registry_variables_pass_through_only_with_the_network"]
fn with_the_hosts_proxy_settings() {
    if !bale_testkit::in_child_test() {
        return;
    }
    let mut spec = SandboxSpec::host(sh(
        "echo ${https_proxy:-none} ${PIP_INDEX_URL:-none} ${npm_config_registry:-none}",
    ));
    spec.network = true;
    assert_eq!(
        run(&spec).stdout.trim(),
        "http://proxy.invalid:3128 https://pypi.invalid/simple https://npm.invalid/"
    );
    spec.network = false;
    assert_eq!(run(&spec).stdout.trim(), "none none none");
}
