//! `bale stack`: listing and the errors for stacks that do not exist.

use crate::common;

use common::Scratch;
use predicates::prelude::*;

#[test]
fn stack_list_json_shows_the_host_stack_and_the_uncreated_bookworm() {
    let s = Scratch::new();
    let out = s
        .bale()
        .args(["stack", "list", "--json"])
        .output()
        .expect("run bale");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let list = list.as_array().expect("an array");
    let host = list
        .iter()
        .find(|s| s["name"] == "host")
        .expect("host listed");
    assert_eq!(host["kind"], "host");
    assert_eq!(host["digest"], "host");
    let bookworm = list
        .iter()
        .find(|s| s["name"] == "debian-bookworm")
        .expect("bookworm listed");
    assert_eq!(bookworm["state"], "absent");
}

#[test]
fn stack_list_prints_a_table_with_a_header() {
    let s = Scratch::new();
    s.bale()
        .args(["stack", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("NAME").and(predicate::str::contains("debian-bookworm")));
}

#[test]
fn an_unknown_stack_fails_with_one_and_names_the_known_stacks() {
    let s = Scratch::new();
    s.bale()
        .args(["stack", "start", "no-such-stack"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("no stack named `no-such-stack`")
                .and(predicate::str::contains("host")),
        );
}

#[test]
fn starting_a_stack_that_was_never_created_says_how_to_create_it() {
    let s = Scratch::new();
    s.bale()
        .args(["stack", "start", "debian-bookworm"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "bale stack create debian-bookworm",
        ));
}
