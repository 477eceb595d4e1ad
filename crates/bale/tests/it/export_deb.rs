//! `bale export deb` checked with Debian's own tools: `dpkg-deb` reads the
//! fields and paths, `dpkg -i` installs it in a copy of the debian-bookworm
//! stack image (its maintainer scripts run, its program runs, `dpkg
//! --verify` finds nothing changed), lintian finds no error outside
//! `crates/bale-export/lintian-allow.txt`, and two exports are identical.
//!
//! The package is examples/hello-c (a C program and the shared library it
//! links to, so it depends on libc6) renamed `hello_deb` at `1.0.0-rc1`,
//! with a post-install hook and a service, built once per test binary in
//! the examples' shared BALE_HOME (see `examples.rs`). Needs root.

use crate::common::{copy_tree, examples};
use crate::examples::{bale, bookworm};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use bale_testkit::{require, require_stack_image, stack_cache};

/// hello-c's manifest under a name and version that Debian spells
/// differently, with a hook that leaves a marker and a service with a kit.
const MANIFEST: &str = r#"[package]
group       = "org.example"
name        = "hello_deb"
version     = "1.0.0-rc1"
description = "Prints a greeting read from etc/hello.conf, using the libgreet shared library"
license     = "MIT"
maintainer  = "Example Maintainer <maintainer@example.org>"

[stack]
name = "debian-bookworm"
kind = "c"

[test]
commands = ["bin/hello | grep -qx 'Hello, world!'"]

[hooks]
post-install = ["printf '%s %s %s %s\\n' \"$BALE_APP\" \"$PORT\" \"$(id -un)\" \"$GREETING\" > \"$BALE_RUN/post-install.marker\""]

[run]
workdir = "bin"

[run.services]
greeter = "exec sleep infinity"

[kits.greeter]
ports = [{ name = "http", port = 8080 }]

[kits.greeter.variables]
GREETING = { default = "hi" }
"#;

const DEB_NAME: &str = "hello-deb_1.0.0~rc1_amd64.deb";
const PREFIX: &str = "/opt/bale/org/example/hello_deb/1.0.0-rc1";

/// Where the fixture's package and exports live for this test binary.
fn fixture_dir() -> PathBuf {
    PathBuf::from("/var/tmp/bale-export-deb-fixture")
}

/// The built package, made once; `None` (said, a failure under CI=true)
/// without root or the stack image.
fn package() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if !require_stack_image("debian-bookworm") || bookworm().is_none() {
                return None;
            }
            let dir = fixture_dir();
            let _ = std::fs::remove_dir_all(&dir);
            let src = dir.join("src");
            copy_tree(&examples().join("hello-c"), &src);
            std::fs::write(src.join("bale.toml"), MANIFEST).expect("write bale.toml");
            let out = dir.join("out");
            let run = bale()
                .arg("build")
                .arg(&src)
                .arg("-o")
                .arg(&out)
                .arg("--json")
                .output()
                .expect("run bale build");
            assert!(
                run.status.success(),
                "bale build failed:\n{}",
                String::from_utf8_lossy(&run.stderr)
            );
            let printed: serde_json::Value =
                serde_json::from_slice(&run.stdout).expect("json on stdout");
            Some(PathBuf::from(
                printed["path"].as_str().expect("the package's path"),
            ))
        })
        .as_deref()
}

/// `bale export deb PACKAGE -o DIR` (DIR under the fixture); the `.deb`'s path.
fn export(package: &Path, dir: &str) -> PathBuf {
    let out = fixture_dir().join(dir);
    let _ = std::fs::remove_dir_all(&out);
    let run = bale()
        .args(["export", "deb"])
        .arg(package)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run bale export deb");
    assert!(
        run.status.success(),
        "bale export deb failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let deb = out.join(DEB_NAME);
    assert!(deb.is_file(), "{} was written", deb.display());
    deb
}

/// Runs `program args…`; its stdout, after asserting it succeeded.
fn stdout_of(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
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

/// A copy of the debian-bookworm stack image with the `.deb` in its `/tmp`.
struct Chroot {
    dir: tempfile::TempDir,
}

impl Chroot {
    fn with(deb: &Path) -> Chroot {
        let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
        let image = stack_cache().join("debian-bookworm/image");
        stdout_of(
            "cp",
            &[
                "-a",
                &format!("{}/.", image.display()),
                &dir.path().display().to_string(),
            ],
        );
        std::fs::copy(deb, dir.path().join("tmp").join(DEB_NAME)).expect("copy the .deb");
        Chroot { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `chroot ROOT args…`, its output, after asserting it succeeded.
    fn run(&self, args: &[&str]) -> String {
        let root = self.root().display().to_string();
        let mut all = vec![root.as_str()];
        all.extend_from_slice(args);
        stdout_of("chroot", &all)
    }

    fn install(&self) {
        self.run(&["dpkg", "-i", &format!("/tmp/{DEB_NAME}")]);
    }
}

#[test]
fn dpkg_deb_shows_the_mapped_name_version_and_libc_dependency() {
    let Some(package) = package() else { return };
    let deb = export(package, "info");
    let deb = deb.display().to_string();
    let info = stdout_of("dpkg-deb", &["--field", &deb]);
    for field in [
        "Package: hello-deb\n",
        "Version: 1.0.0~rc1\n",
        "Architecture: amd64\n",
        "Maintainer: Example Maintainer <maintainer@example.org>\n",
        "Section: misc\n",
        "Priority: optional\n",
        "Description: Prints a greeting read from etc/hello.conf, using the libgreet shared library\n",
    ] {
        assert!(info.contains(field), "{field:?} in:\n{info}");
    }
    let depends = info
        .lines()
        .find_map(|l| l.strip_prefix("Depends: "))
        .expect("a Depends field");
    assert!(
        depends.split(", ").any(|d| d.starts_with("libc6 (>= 2.36")),
        "libc6 at least at the build's version: {depends}"
    );
    let size: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("Installed-Size: "))
        .expect("Installed-Size")
        .parse()
        .expect("a number");
    assert!(size > 0);
}

#[test]
fn dpkg_deb_lists_the_package_under_opt_its_etc_as_conffiles_and_a_unit() {
    let Some(package) = package() else { return };
    let deb = export(package, "contents");
    let deb = deb.display().to_string();
    let contents = stdout_of("dpkg-deb", &["--contents", &deb]);
    for path in [
        format!(".{PREFIX}/bin/hello"),
        format!(".{PREFIX}/lib/libgreet.so.1.0.0"),
        format!(".{PREFIX}/etc -> /etc/opt/bale/org/example/hello_deb"),
        "./etc/opt/bale/org/example/hello_deb/hello.conf".to_owned(),
        format!("./bale/pkgs/org/example/hello_deb/1.0.0-rc1 -> {PREFIX}"),
        "./lib/systemd/system/hello-deb-greeter.service".to_owned(),
        "./usr/libexec/hello-deb/service-greeter".to_owned(),
        "./usr/share/doc/hello-deb/copyright".to_owned(),
    ] {
        assert!(contents.contains(&path), "{path} in:\n{contents}");
    }
    assert!(
        contents.lines().all(|l| l.contains(" root/root ")),
        "every entry is root's:\n{contents}"
    );
    let conffiles = stdout_of("dpkg-deb", &["--info", &deb, "conffiles"]);
    assert_eq!(
        conffiles,
        "/etc/default/hello-deb\n/etc/opt/bale/org/example/hello_deb/hello.conf\n"
    );
}

#[test]
fn a_service_becomes_a_systemd_unit_run_as_the_packages_user() {
    let Some(package) = package() else { return };
    let deb = export(package, "unit");
    let tree = fixture_dir().join("unit/tree");
    stdout_of(
        "dpkg-deb",
        &[
            "-x",
            &deb.display().to_string(),
            &tree.display().to_string(),
        ],
    );
    let unit = std::fs::read_to_string(tree.join("lib/systemd/system/hello-deb-greeter.service"))
        .expect("the unit");
    for line in [
        "User=bale-hello-deb",
        "Environment=PORT=8080",
        "Environment=PORT_HTTP=8080",
        &format!("Environment=BALE_PREFIX={PREFIX}"),
        "Environment=BALE_RUN=/var/lib/hello-deb",
        "EnvironmentFile=-/etc/default/hello-deb",
        "ExecStart=/usr/libexec/hello-deb/service-greeter",
        "WantedBy=multi-user.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} in:\n{unit}");
    }
    let start = std::fs::read_to_string(tree.join("usr/libexec/hello-deb/service-greeter"))
        .expect("the service's script");
    assert!(start.contains(&format!("cd '{PREFIX}/bin'")), "{start}");
    assert!(
        start.contains("exec /bin/sh -ec 'exec sleep infinity'"),
        "{start}"
    );
    let defaults = std::fs::read_to_string(tree.join("etc/default/hello-deb")).expect("defaults");
    assert!(defaults.lines().any(|l| l == "GREETING='hi'"), "{defaults}");
}

#[test]
fn the_exported_program_runs_after_dpkg_installs_it_in_the_stack() {
    let Some(package) = package() else { return };
    let deb = export(package, "install");
    let chroot = Chroot::with(&deb);
    chroot.install();
    let hello = chroot.run(&[&format!("{PREFIX}/bin/hello")]);
    assert_eq!(hello, "Hello, world!\n");
    let verify = chroot.run(&["dpkg", "--verify", "hello-deb"]);
    assert_eq!(verify, "", "dpkg --verify finds nothing changed");
}

#[test]
fn dpkg_runs_the_post_install_hook_as_the_packages_user_with_bales_environment() {
    let Some(package) = package() else { return };
    let deb = export(package, "hooks");
    let chroot = Chroot::with(&deb);
    chroot.install();
    let marker = chroot.root().join("var/lib/hello-deb/post-install.marker");
    let text = std::fs::read_to_string(&marker).expect("the post-install hook left its marker");
    assert_eq!(text, "hello-deb 8080 bale-hello-deb hi\n");
}

#[test]
fn two_exports_of_one_package_are_byte_identical() {
    let Some(package) = package() else { return };
    let first = std::fs::read(export(package, "first")).expect("read");
    let second = std::fs::read(export(package, "second")).expect("read");
    assert!(first == second, "the two .deb files differ");
}

/// The tags lintian may report as errors, each with why: `TAG  reason` lines.
fn lintian_allowed() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bale-export/lintian-allow.txt");
    let text = std::fs::read_to_string(&path).expect("the lintian allow-list");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (tag, reason) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            assert!(
                !reason.trim().is_empty(),
                "{tag} is allowed without a reason"
            );
            tag.to_owned()
        })
        .collect()
}

#[test]
fn lintian_reports_no_error_outside_the_allow_list() {
    let Some(package) = package() else { return };
    let lintian = Command::new("lintian").arg("--version").output();
    if !require(
        lintian.is_ok_and(|o| o.status.success()),
        "needs lintian (scripts/setup installs it)",
    ) {
        return;
    }
    let deb = export(package, "lintian");
    let out = Command::new("lintian")
        .arg(&deb)
        .output()
        .expect("run lintian");
    let report = String::from_utf8_lossy(&out.stdout);
    let allowed = lintian_allowed();
    let errors: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("E: "))
        .filter(|l| {
            let tag = l.split_whitespace().nth(2).unwrap_or_default();
            !allowed.iter().any(|a| a == tag)
        })
        .collect();
    assert!(
        errors.is_empty(),
        "lintian errors not on the allow-list:\n{}\n\nwhole report:\n{report}{}",
        errors.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !report
            .lines()
            .any(|l| l.contains("tar-errors-from-data") || l.contains("malformed-deb-archive")),
        "lintian reads the archive:\n{report}"
    );
}
