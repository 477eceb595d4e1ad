//! The host's proxy settings pass into a networked sandbox only.
//! (A test binary of its own: it sets a variable in its own environment.)

mod common;

use bale_sandbox::SandboxSpec;
use common::{run, sh};

#[test]
fn proxy_variables_pass_through_only_with_the_network() {
    std::env::set_var("https_proxy", "http://proxy.invalid:3128");
    let mut spec = SandboxSpec::host(sh("echo ${https_proxy:-none}"));
    spec.network = true;
    assert_eq!(run(&spec).stdout.trim(), "http://proxy.invalid:3128");
    spec.network = false;
    assert_eq!(run(&spec).stdout.trim(), "none");
}
