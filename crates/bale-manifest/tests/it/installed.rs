//! The manifest an installed package carries was checked where it was built:
//! a stack or kind this machine does not define is accepted, other rules hold.

use bale_manifest::Manifest;

const BUILT_ELSEWHERE: &str =
    "[package]\ngroup = \"org.example\"\nname = \"web\"\nversion = \"1.0.0\"\n\n\
    [stack]\nname = \"farm-trixie\"\nkind = \"farm-site\"\n";

#[test]
fn a_stack_and_kind_from_the_building_machine_are_accepted() {
    let manifest = Manifest::parse_installed("manifest.toml", BUILT_ELSEWHERE)
        .unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(manifest.stack.name, "farm-trixie");
    assert_eq!(manifest.kind(), Some("farm-site"));
    // A fresh manifest on this machine names both as unknown.
    let errors = Manifest::parse(
        "bale.toml",
        BUILT_ELSEWHERE,
        &Default::default(),
        &Default::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        errors.contains("farm-trixie") && errors.contains("farm-site"),
        "{errors}"
    );
}

#[test]
fn other_rules_still_hold_for_an_installed_manifest() {
    let text = format!("{BUILT_ELSEWHERE}\n[run]\nsurprise = 1\n");
    let errors = Manifest::parse_installed("manifest.toml", &text)
        .unwrap_err()
        .to_string();
    assert!(errors.contains("surprise"), "{errors}");
}
