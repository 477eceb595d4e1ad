//! The host's proxy and registry settings pass into a networked sandbox only.
//! (A test binary of its own: it sets a variable in its own environment.)

use crate::common;

use bale_sandbox::SandboxSpec;
use common::{run, sh};

#[test]
fn proxy_and_registry_variables_pass_through_only_with_the_network() {
    std::env::set_var("https_proxy", "http://proxy.invalid:3128");
    std::env::set_var("PIP_INDEX_URL", "https://pypi.invalid/simple");
    std::env::set_var("npm_config_registry", "https://npm.invalid/");
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
