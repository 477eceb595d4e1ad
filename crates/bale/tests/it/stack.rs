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
    assert_eq!(host["identity"], "host");
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

#[test]
fn stack_list_names_each_images_architecture() {
    let s = Scratch::new();
    let out = s
        .bale()
        .args(["stack", "list", "--json"])
        .output()
        .expect("run bale");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let host = list
        .as_array()
        .expect("an array")
        .iter()
        .find(|s| s["name"] == "host")
        .expect("host listed");
    assert_eq!(host["arch"], bale_stack::machine_arch());
    s.bale()
        .args(["stack", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ARCH").and(predicate::str::contains("debian-trixie")));
}

#[test]
fn a_stack_never_created_for_an_architecture_says_how_to_create_it_for_that_one() {
    let s = Scratch::new();
    let other = if bale_stack::machine_arch() == "arm64" {
        "riscv64"
    } else {
        "arm64"
    };
    s.bale()
        .args(["stack", "start", "debian-bookworm", "--arch", other])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "bale stack create debian-bookworm --arch {other}"
        )));
}

#[test]
fn an_unknown_architecture_fails_with_one_and_names_the_known_ones() {
    let s = Scratch::new();
    s.bale()
        .args(["stack", "rm", "debian-bookworm", "--arch", "vax"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("`vax` is not an architecture")
                .and(predicate::str::contains("arm64")),
        );
}
