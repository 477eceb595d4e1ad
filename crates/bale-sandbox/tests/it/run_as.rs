//! A root sandbox runs its command as another user when asked: the root and
//! mounts are made as root, the command never holds root.

use crate::common;

use bale_sandbox::{RunAs, SandboxSpec};
use common::{is_root, run, sh};

#[test]
fn a_root_run_as_another_user_holds_only_that_users_ids() {
    let mut spec = SandboxSpec::host(sh("id -u; id -g; id -G; touch /tmp/x && stat -c %u /tmp/x"));
    spec.run_as = Some(RunAs {
        uid: 65534,
        gid: 65534,
    });
    let ran = run(&spec);
    assert!(ran.outcome.success(), "{}", ran.stderr);
    let ids: Vec<&str> = ran.stdout.lines().collect();
    if is_root() {
        // No supplementary group is left over from root.
        assert_eq!(ids, ["65534", "65534", "65534", "65534"], "{}", ran.stderr);
    } else {
        // An ordinary user cannot switch: `run_as` is left alone and the
        // sandbox runs as that user, who is root inside its user namespace.
        assert_eq!(ids[0], "0", "{}", ran.stdout);
    }
}
