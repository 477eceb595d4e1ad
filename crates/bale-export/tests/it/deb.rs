//! `deb::export` of a hand-made package without ELF files (a shell script,
//! a configuration file, hooks): read back by `dpkg-deb`, installed by
//! `dpkg -i` in a copy of the debian-bookworm stack image.

use std::path::{Path, PathBuf};
use std::process::Command;

use bale_archive::{Dependencies, PackMeta, PackageTree, SourceRef, StackRef};
use bale_coordinate::Coordinate;
use bale_export::{deb, Package};
use bale_testkit::{require_stack_image, stack_cache};

const MANIFEST: &str = r#"[package]
group = "org.example.tools"
name = "greet_sh"
version = "2.1"
description = "Greets from a shell script"
maintainer = "nobody"

[stack]
name = "debian-bookworm"
kind = "static"

[dependencies]
runtime = ["coreutils"]

[hooks]
post-install = ["echo \"installed as $(id -un) in $(pwd -P) with BALE_HOOK=$BALE_HOOK\" > \"$BALE_RUN/marker\""]
post-deinstall = ["echo 'removed' > /tmp/greet-removed"]

[run]
workdir = "etc"

[run.services]
greeter = "while true; do greet; sleep 60; done"
"#;

/// Writes a package with `bin/greet` and `etc/greet.conf` into `dir`; its path.
fn make_package(dir: &Path, mtime: u64) -> PathBuf {
    make_package_with(dir, mtime, |_| {})
}

/// [`make_package`], with `extra` adding files to the root first.
fn make_package_with(dir: &Path, mtime: u64, extra: impl FnOnce(&Path)) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    std::fs::write(
        root.join("bin/greet"),
        "#!/bin/sh\nread -r greeting < \"${BALE_PREFIX:-/opt/bale/org/example/tools/greet_sh/2.1}/etc/greet.conf\"\necho \"$greeting\"\n",
    )
    .expect("write");
    let mut perms = std::fs::metadata(root.join("bin/greet"))
        .expect("meta")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(root.join("bin/greet"), perms).expect("chmod");
    std::fs::write(root.join("etc/greet.conf"), "Hello from greet\n").expect("write");
    extra(&root);
    let tree = PackageTree::scan(&root).expect("scan");
    let meta = PackMeta {
        coordinate: Coordinate::new("org.example.tools", "greet_sh", "2.1").expect("coordinate"),
        arch: None,
        stack: StackRef {
            name: "debian-bookworm".into(),
            digest: String::new(),
        },
        dependencies: Dependencies {
            runtime: vec!["coreutils".into()],
            detected: vec![],
        },
        source: SourceRef::default(),
        mtime,
    };
    let file = dir.join("greet_sh-2.1.bale");
    let out = std::fs::File::create(&file).expect("create");
    tree.write(&meta, MANIFEST.as_bytes(), out)
        .expect("write the package");
    file
}

fn export(package: &Path, out: &Path) -> PathBuf {
    let package = Package::open(package).expect("open");
    let written = deb::export(
        &package,
        &deb::Options {
            out: out.to_path_buf(),
        },
    )
    .expect("export");
    assert_eq!(written.len(), 1);
    written[0].path.clone()
}

fn stdout_of(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_package_without_elf_files_is_architecture_all_named_the_debian_way() {
    let dir = tempfile::tempdir().expect("tempdir");
    let deb = export(&make_package(dir.path(), 1_700_000_000), dir.path());
    assert_eq!(
        deb.file_name().and_then(|n| n.to_str()),
        Some("greet-sh_2.1_all.deb")
    );
    let deb = deb.display().to_string();
    let fields = stdout_of("dpkg-deb", &["--field", &deb]);
    assert!(fields.contains("Package: greet-sh\n"), "{fields}");
    assert!(fields.contains("Architecture: all\n"), "{fields}");
    assert!(
        fields.contains("Maintainer: bale export <bale-export@example.org>\n"),
        "a maintainer without an address is replaced: {fields}"
    );
    assert!(fields.contains("Depends: coreutils, passwd\n"), "{fields}");
    let contents = stdout_of("dpkg-deb", &["--contents", &deb]);
    assert!(
        contents
            .lines()
            .all(|l| l.contains(" root/root ") && l.contains(" 2023-11-14 ")),
        "root's entries at the package's SOURCE_DATE_EPOCH:\n{contents}"
    );
}

#[test]
fn two_exports_of_one_package_are_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let package = make_package(dir.path(), 1_700_000_000);
    let first = std::fs::read(export(&package, &dir.path().join("a"))).expect("read");
    let second = std::fs::read(export(&package, &dir.path().join("b"))).expect("read");
    assert!(first == second, "the two .deb files differ");
}

#[test]
fn a_line_break_in_a_path_is_refused_as_it_would_add_a_conffile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let package = make_package_with(dir.path(), 0, |root| {
        std::fs::write(root.join("etc/greet\n.conf"), "").expect("write");
    });
    let package = Package::open(&package).expect("open");
    let err = deb::export(
        &package,
        &deb::Options {
            out: dir.path().join("out"),
        },
    )
    .expect_err("refused");
    assert!(err.to_string().contains("control character"), "{err}");
    assert!(!dir.path().join("out/greet-sh_2.1_all.deb").exists());
}

#[test]
fn shellcheck_finds_no_warning_in_the_maintainer_and_service_scripts() {
    if !bale_testkit::require(
        Command::new("shellcheck").arg("--version").output().is_ok(),
        "needs shellcheck (scripts/setup installs it)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let deb = export(&make_package(dir.path(), 0), dir.path());
    let deb = deb.display().to_string();
    let control = dir.path().join("control");
    let tree = dir.path().join("tree");
    stdout_of("dpkg-deb", &["-e", &deb, &control.display().to_string()]);
    stdout_of("dpkg-deb", &["-x", &deb, &tree.display().to_string()]);
    let scripts: Vec<String> = ["postinst", "prerm", "postrm"]
        .iter()
        .map(|s| control.join(s))
        .chain([tree.join("usr/libexec/greet-sh/service-greeter")])
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["-s", "sh", "-S", "warning"];
    args.extend(scripts.iter().map(String::as_str));
    stdout_of("shellcheck", &args);
}

#[test]
fn the_sbom_beside_the_package_goes_into_its_documentation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let package = make_package(dir.path(), 0);
    std::fs::write(
        dir.path().join("greet_sh-2.1.bale.spdx.json"),
        "{\"spdxVersion\": \"SPDX-2.3\"}\n",
    )
    .expect("write");
    let deb = export(&package, &dir.path().join("out"));
    let contents = stdout_of("dpkg-deb", &["--contents", &deb.display().to_string()]);
    assert!(
        contents.contains("./usr/share/doc/greet-sh/greet-sh.spdx.json"),
        "{contents}"
    );
}

#[test]
fn dpkg_installs_it_runs_its_hooks_and_removes_it_in_a_copy_of_the_stack() {
    if !require_stack_image("debian-bookworm") {
        return;
    }
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let deb = export(&make_package(dir.path(), 0), dir.path());
    let root = dir.path().join("chroot");
    std::fs::create_dir(&root).expect("mkdir");
    let image = stack_cache().join("debian-bookworm/image");
    stdout_of(
        "cp",
        &[
            "-a",
            &format!("{}/.", image.display()),
            &root.display().to_string(),
        ],
    );
    std::fs::copy(&deb, root.join("tmp/greet.deb")).expect("copy");
    let chroot = |args: &[&str]| {
        let r = root.display().to_string();
        let mut all = vec![r.as_str()];
        all.extend_from_slice(args);
        stdout_of("chroot", &all)
    };
    chroot(&["dpkg", "-i", "/tmp/greet.deb"]);
    assert_eq!(
        chroot(&["/opt/bale/org/example/tools/greet_sh/2.1/bin/greet"]),
        "Hello from greet\n"
    );
    assert_eq!(chroot(&["dpkg", "--verify", "greet-sh"]), "");
    let marker = std::fs::read_to_string(root.join("var/lib/greet-sh/marker")).expect("marker");
    assert_eq!(
        marker,
        "installed as bale-greet-sh in /etc/opt/bale/org/example/tools/greet_sh with BALE_HOOK=post-install\n"
    );
    chroot(&["dpkg", "--remove", "greet-sh"]);
    assert_eq!(
        std::fs::read_to_string(root.join("tmp/greet-removed")).expect("post-deinstall ran"),
        "removed\n"
    );
    assert!(!root
        .join("opt/bale/org/example/tools/greet_sh/2.1/bin/greet")
        .exists());
}
