//! A package's architecture: named by `bale pack`, shown by `bale inspect`
//! with each ELF file's machine, and checked by `bale install`.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use bale_archive::{Dependencies, PackMeta, PackageTree, SourceRef, StackRef};
use predicates::prelude::*;

use crate::common::{Scratch, MINIMAL};

/// This machine's Debian architecture, and one it is not.
fn machine_and_foreign() -> (&'static str, &'static str) {
    let machine = bale_inspect::machine_arch();
    (machine, if machine == "arm64" { "amd64" } else { "arm64" })
}

/// A root whose `bin/busybox` is Debian's static busybox for `arch`.
fn busybox_root(s: &Scratch, arch: &str) -> std::path::PathBuf {
    let root = s.path().join(format!("root-{arch}"));
    fs::create_dir_all(root.join("bin")).expect("mkdir");
    let busybox = root.join("bin/busybox");
    fs::copy(bale_testkit::foreign::static_busybox(arch), &busybox).expect("copy busybox");
    fs::set_permissions(&busybox, fs::Permissions::from_mode(0o755)).expect("chmod");
    s.write("bale.toml", MINIMAL);
    root
}

#[test]
fn a_foreign_elf_packs_as_its_architecture_inspects_with_its_machine_and_does_not_install() {
    let (machine, foreign) = machine_and_foreign();
    let s = Scratch::new();
    let root = busybox_root(&s, foreign);
    s.bale()
        .arg("pack")
        .arg(&root)
        .args(["--manifest", "bale.toml", "-o", "out"])
        .assert()
        .success();
    let package = s.path().join(format!("out/tiny-1.0.0-{foreign}.bale"));
    assert!(package.is_file(), "named for its architecture");

    s.bale()
        .arg("inspect")
        .arg(&package)
        .assert()
        .success()
        .stdout(predicate::str::is_match(format!(r"(?m)^arch\s+{foreign}$")).unwrap())
        .stdout(predicate::str::is_match(format!(r"static\s+{foreign}\s+bin/busybox")).unwrap());
    let json = s
        .bale()
        .arg("inspect")
        .arg(&package)
        .arg("--json")
        .output()
        .expect("inspect --json");
    let index: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(index["arch"], foreign);
    let busybox = index["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "bin/busybox")
        .expect("bin/busybox");
    assert_eq!(busybox["elf"]["machine"], foreign);

    s.bale()
        .arg("install")
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "org.example:tiny:1.0.0 is built for {foreign}; this machine is {machine}"
        )));
    assert!(!s.home().join("pkgs/org/example/tiny/1.0.0").exists());
}

#[test]
fn pack_refuses_an_arch_its_elf_files_are_not_for() {
    let (machine, foreign) = machine_and_foreign();
    let s = Scratch::new();
    let root = busybox_root(&s, foreign);
    s.bale()
        .arg("pack")
        .arg(&root)
        .args(["--manifest", "bale.toml", "-o", "out", "--arch", machine])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "the package is for {machine} but ships ELF files for {foreign}"
        )));
    assert!(!s
        .path()
        .join(format!("out/tiny-1.0.0-{machine}.bale"))
        .exists());
}

#[test]
fn a_package_whose_index_names_another_arch_than_its_elf_files_is_refused_when_read() {
    let (machine, foreign) = machine_and_foreign();
    let s = Scratch::new();
    let root = busybox_root(&s, foreign);
    // Written past `bale pack`'s check, as a hostile publisher would.
    let tree = PackageTree::scan(&root).expect("scan");
    let meta = PackMeta {
        arch: Some(machine.to_owned()),
        coordinate: "org.example:tiny:1.0.0".parse().expect("coordinate"),
        stack: StackRef::default(),
        dependencies: Dependencies::default(),
        source: SourceRef::default(),
        mtime: 0,
    };
    let forged = s.path().join(format!("tiny-1.0.0-{machine}.bale"));
    let file = fs::File::create(&forged).expect("create");
    tree.write(&meta, MINIMAL.as_bytes(), std::io::BufWriter::new(file))
        .expect("write");
    let refusal = format!("bin/busybox: an {foreign} ELF file in a package built for {machine}");
    s.bale()
        .arg("inspect")
        .arg(&forged)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(refusal.clone()));
    s.bale()
        .arg("install")
        .arg(&forged)
        .arg("--allow-unsigned")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(refusal));
}

#[test]
fn a_package_without_elf_files_is_all_and_installs() {
    let s = Scratch::new();
    s.write("root/share/doc/README", "tiny\n");
    s.write("root/bin/tiny", "#!/bin/sh\necho tiny\n");
    s.write("bale.toml", MINIMAL);
    s.bale()
        .args(["pack", "root", "--manifest", "bale.toml", "-o", "out"])
        .assert()
        .success();
    let package = s.path().join("out/tiny-1.0.0-all.bale");
    s.bale()
        .arg("inspect")
        .arg(&package)
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"(?m)^arch\s+all$").unwrap());
    s.bale()
        .arg("install")
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .success();
    assert!(s
        .home()
        .join("pkgs/org/example/tiny/1.0.0/bin/tiny")
        .is_file());
}
