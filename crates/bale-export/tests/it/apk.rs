//! `bale export apk`, checked with the real apk-tools of an Alpine root:
//! `apk verify` takes the export with its key and refuses it with one byte
//! changed, `apk add` installs it and its static binary runs.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bale_archive::{PackMeta, PackageTree, StackRef};
use bale_export::{apk, ExportError, Package, Written};
use bale_manifest::{Catalog, Manifest, ParseOptions};
use bale_testkit::{alpine_root, in_root, require_alpine_root};

/// The package's `SOURCE_DATE_EPOCH`.
const EPOCH: u64 = 1_700_000_000;

const HELLO_C: &str = r#"#include <stdio.h>
int main(int argc, char **argv) { printf("hello from bale, %d args\n", argc - 1); return 0; }
"#;

/// A doc file whose path inside the apk is longer than a ustar name holds.
const LONG_DOC: &str = "share/doc/hello/a-rather-long-directory-name-for-the-examples/and-a-long-file-name-as-well.txt";

/// A test's directory, with a package made from a C program built by gcc.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::Builder::new()
                .prefix("bale-export-apk-")
                .tempdir()
                .expect("a temporary directory"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `hello-1.0.0.bale` (org.example:hello:1.0.0, amd64) holding
    /// `bin/hello` compiled with `gcc_flags`, a symlink to it, a config
    /// file and a doc with a long path.
    fn package(&self, gcc_flags: &[&str]) -> PathBuf {
        let root = self.path("root");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::create_dir_all(root.join("etc")).unwrap();
        let doc = root.join(LONG_DOC);
        fs::create_dir_all(doc.parent().unwrap()).unwrap();
        fs::write(&doc, "read me\n").unwrap();
        fs::write(root.join("etc/hello.conf"), "greeting = hello\n").unwrap();
        let source = self.path("hello.c");
        fs::write(&source, HELLO_C).unwrap();
        let status = Command::new("gcc")
            .args(gcc_flags)
            .arg("-o")
            .arg(root.join("bin/hello"))
            .arg(&source)
            .status()
            .expect("running gcc");
        assert!(status.success(), "gcc {gcc_flags:?} failed");
        fs::set_permissions(root.join("bin/hello"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("hello", root.join("bin/hi")).unwrap();

        let text = r#"[package]
group = "org.example"
name = "hello"
version = "1.0.0"
description = "Says hello"
license = "MIT"

[stack]
name = "host"
"#;
        let manifest = Manifest::parse(
            "bale.toml",
            text,
            &Catalog::default(),
            &ParseOptions::default(),
        )
        .unwrap_or_else(|d| panic!("{d}"));
        let meta = PackMeta {
            coordinate: manifest.coordinate().unwrap(),
            arch: Some("amd64".into()),
            stack: StackRef {
                name: "host".into(),
                digest: String::new(),
            },
            dependencies: Default::default(),
            source: Default::default(),
            mtime: EPOCH,
        };
        let out = self.path("hello-1.0.0-amd64.bale");
        PackageTree::scan(&root)
            .unwrap()
            .write(
                &meta,
                manifest.to_toml().as_bytes(),
                fs::File::create(&out).unwrap(),
            )
            .unwrap();
        out
    }

    /// A fresh RSA key made by `openssl genrsa`, as the docs tell users to.
    fn key(&self, name: &str) -> PathBuf {
        let key = self.path(name);
        let out = Command::new("openssl")
            .args(["genrsa", "-out"])
            .arg(&key)
            .arg("2048")
            .output()
            .expect("running openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        key
    }

    fn export(&self, package: &Path, key: &Path, out: &str) -> Result<Vec<Written>, ExportError> {
        let package = Package::open(package).expect("the package opens");
        apk::export(
            &package,
            &apk::Options {
                out: self.path(out),
                key: key.to_path_buf(),
            },
        )
    }
}

/// Runs `apk ARGS` in the Alpine root with `work` as `/mnt` and the
/// directory `keys` as its `/etc/apk/keys`.
fn apk(work: &Path, keys: &Path, args: &[&str]) -> Output {
    in_root(&alpine_root(), &[(work, "/mnt"), (keys, "/etc/apk/keys")])
        .arg("/sbin/apk")
        .args(args)
        .output()
        .expect("running bwrap")
}

fn said(out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The export's `.apk` and public key, from what it wrote.
fn apk_and_key(written: &[Written]) -> (PathBuf, PathBuf) {
    assert_eq!(written.len(), 2, "{written:?}");
    (written[0].path.clone(), written[1].path.clone())
}

/// The export in `work/`, with its public key alone in `keys/`.
fn staged(fx: &Fixture, written: &[Written]) -> (PathBuf, PathBuf, String) {
    let (apk_file, public) = apk_and_key(written);
    let work = fx.path("work");
    let keys = fx.path("keys");
    fs::create_dir_all(&work).unwrap();
    fs::create_dir_all(&keys).unwrap();
    let name = apk_file.file_name().unwrap().to_str().unwrap().to_owned();
    fs::copy(&apk_file, work.join(&name)).unwrap();
    fs::copy(&public, keys.join(public.file_name().unwrap())).unwrap();
    (work, keys, name)
}

/// A static hello exported with `signer.pem` and staged for apk-tools
/// ([`staged`]); `None`, said, without the Alpine root.
fn staged_static_export(fx: &Fixture) -> Option<(PathBuf, PathBuf, String)> {
    if !require_alpine_root() {
        return None;
    }
    let package = fx.package(&["-static", "-O2"]);
    let written = fx.export(&package, &fx.key("signer.pem"), "out").unwrap();
    Some(staged(fx, &written))
}

#[test]
fn an_exported_static_package_is_named_after_its_version_and_signed_by_the_keys_name() {
    let fx = Fixture::new();
    let package = fx.package(&["-static", "-O2"]);
    let key = fx.key("packager-2026.pem");
    let written = fx.export(&package, &key, "out").unwrap();
    let (apk_file, public) = apk_and_key(&written);
    assert_eq!(apk_file, fx.path("out/hello-1.0.0-r0.apk"));
    assert_eq!(public, fx.path("out/packager-2026.rsa.pub"));
    let pem = fs::read_to_string(&public).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");

    // GNU tar reads the three gzip streams as one archive, as apk does.
    let list = Command::new("tar")
        .arg("-tzf")
        .arg(&apk_file)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    let names: Vec<&str> = list.lines().collect();
    assert_eq!(names[0], ".SIGN.RSA256.packager-2026.rsa.pub", "{list}");
    assert_eq!(names[1], ".PKGINFO", "{list}");
    for name in [
        "opt/bale/org/example/hello/1.0.0/",
        "opt/bale/org/example/hello/1.0.0/bin/hello",
        "opt/bale/org/example/hello/1.0.0/bin/hi",
        "opt/bale/org/example/hello/1.0.0/etc/hello.conf",
        &format!("opt/bale/org/example/hello/1.0.0/{LONG_DOC}"),
    ] {
        assert!(names.contains(&name), "{name} is missing from:\n{list}");
    }

    let info = Command::new("tar")
        .arg("-xzOf")
        .arg(&apk_file)
        .arg(".PKGINFO")
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    for line in [
        "pkgname = hello",
        "pkgver = 1.0.0-r0",
        "pkgdesc = Says hello",
        "arch = x86_64",
        "origin = hello",
        "license = MIT",
        &format!("builddate = {EPOCH}"),
    ] {
        assert!(
            info.lines().any(|l| l == line),
            "{line} is missing from:\n{info}"
        );
    }
    assert!(
        !info.contains("depend ="),
        "a static package depends on nothing:\n{info}"
    );
    let datahash = info
        .lines()
        .find_map(|l| l.strip_prefix("datahash = "))
        .unwrap_or_else(|| panic!("no datahash in:\n{info}"));
    assert_eq!(datahash.len(), 64, "{info}");
}

#[test]
fn apk_verify_accepts_the_export_with_its_key_installed_and_refuses_it_without() {
    let fx = Fixture::new();
    let Some((work, keys, name)) = staged_static_export(&fx) else {
        return;
    };
    let file = format!("/mnt/{name}");

    let out = apk(&work, &keys, &["verify", &file]);
    assert!(out.status.success(), "{}", said(&out));

    let empty = fx.path("no-keys");
    fs::create_dir_all(&empty).unwrap();
    let out = apk(&work, &empty, &["verify", &file]);
    assert!(
        !out.status.success(),
        "verified with no key: {}",
        said(&out)
    );
}

#[test]
fn apk_verify_refuses_the_export_with_one_byte_flipped() {
    let fx = Fixture::new();
    let Some((work, keys, name)) = staged_static_export(&fx) else {
        return;
    };
    let original = fs::read(work.join(&name)).unwrap();
    // In the signature, the control segment and the data segment.
    let len = original.len();
    for at in [300, 700, len / 2, len - 12] {
        let mut bytes = original.clone();
        bytes[at] ^= 0x01;
        let flipped = format!("flipped-{at}.apk");
        fs::write(work.join(&flipped), &bytes).unwrap();
        let out = apk(&work, &keys, &["verify", &format!("/mnt/{flipped}")]);
        assert!(
            !out.status.success(),
            "verified with byte {at} of {len} flipped: {}",
            said(&out)
        );
    }
}

/// The gzip streams of an apk: signature, control, data.
fn segments(apk: &[u8]) -> Vec<Vec<u8>> {
    let mut rest = apk;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let mut decoder = flate2::bufread::GzDecoder::new(rest);
        std::io::copy(&mut decoder, &mut std::io::sink()).expect("a gzip stream");
        let left = decoder.into_inner();
        out.push(rest[..rest.len() - left.len()].to_vec());
        rest = left;
    }
    out
}

/// `segment` decompressed, with the first `from` replaced by `to`, compressed again.
fn tampered(segment: &[u8], from: &str, to: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(segment)
        .read_to_end(&mut tar)
        .unwrap();
    let at = tar
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{from} is not in the segment"));
    tar[at..at + to.len()].copy_from_slice(to.as_bytes());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

#[test]
fn apk_verify_refuses_the_export_with_its_pkginfo_or_a_files_content_changed() {
    let fx = Fixture::new();
    let Some((work, keys, name)) = staged_static_export(&fx) else {
        return;
    };
    let parts = segments(&fs::read(work.join(&name)).unwrap());
    assert_eq!(parts.len(), 3, "an apk v2 is three gzip streams");

    // Same lengths: the tar stays well-formed, only the content differs.
    let cases = [
        (
            "control",
            1,
            "pkgdesc = Says hello",
            "pkgdesc = Says howdy",
            "BAD signature",
        ),
        (
            "data",
            2,
            "greeting = hello",
            "greeting = jello",
            "integrity error",
        ),
    ];
    for (what, index, from, to, why) in cases {
        let mut parts = parts.clone();
        parts[index] = tampered(&parts[index], from, to);
        let file = format!("changed-{what}.apk");
        fs::write(work.join(&file), parts.concat()).unwrap();
        let out = apk(&work, &keys, &["verify", &format!("/mnt/{file}")]);
        assert!(
            !out.status.success(),
            "verified with the {what} changed: {}",
            said(&out)
        );
        assert!(said(&out).contains(why), "{what}: {}", said(&out));
    }
}

#[test]
fn apk_add_installs_the_export_with_its_key_and_the_static_binary_runs() {
    let fx = Fixture::new();
    let Some((work, keys, name)) = staged_static_export(&fx) else {
        return;
    };
    let target = work.join("target");
    fs::create_dir_all(target.join("etc/apk/keys")).unwrap();
    let add = [
        "add",
        "--root",
        "/mnt/target",
        "--initdb",
        "--no-network",
        "--no-cache",
        &format!("/mnt/{name}"),
    ];
    let out = apk(&work, &keys, &add);
    assert!(
        !out.status.success(),
        "installed with no trusted key: {}",
        said(&out)
    );
    assert!(said(&out).contains("UNTRUSTED signature"), "{}", said(&out));

    // The target root trusts the key as a system would: in its /etc/apk/keys.
    fs::copy(
        keys.join("signer.rsa.pub"),
        target.join("etc/apk/keys/signer.rsa.pub"),
    )
    .unwrap();

    let out = apk(&work, &keys, &add);
    assert!(out.status.success(), "{}", said(&out));

    let prefix = target.join("opt/bale/org/example/hello/1.0.0");
    assert_eq!(
        fs::read_to_string(prefix.join("etc/hello.conf")).unwrap(),
        "greeting = hello\n"
    );
    assert_eq!(
        fs::read_to_string(prefix.join(LONG_DOC)).unwrap(),
        "read me\n"
    );
    assert_eq!(
        fs::read_link(prefix.join("bin/hi")).unwrap(),
        Path::new("hello")
    );

    let installed = fs::read_to_string(target.join("lib/apk/db/installed")).unwrap();
    assert!(installed.contains("P:hello\nV:1.0.0-r0\n"), "{installed}");

    // The binary runs with the installed root as `/`, through the symlink
    // (the sandbox mounts its own /dev, /proc and /tmp there).
    for dir in ["dev", "proc", "tmp"] {
        fs::create_dir_all(target.join(dir)).unwrap();
    }
    let run = in_root(&target, &[])
        .args(["/opt/bale/org/example/hello/1.0.0/bin/hi", "a", "b"])
        .output()
        .expect("running bwrap");
    assert!(run.status.success(), "{}", said(&run));
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "hello from bale, 2 args\n"
    );

    let out = apk(
        &work,
        &keys,
        &["del", "--root", "/mnt/target", "--no-network", "hello"],
    );
    assert!(out.status.success(), "{}", said(&out));
    assert!(!prefix.exists(), "apk del left {}", prefix.display());
}

#[test]
fn a_glibc_linked_package_is_refused_naming_its_files() {
    let fx = Fixture::new();
    let package = fx.package(&["-O2"]);
    let err = fx
        .export(&package, &fx.key("signer.pem"), "out")
        .unwrap_err()
        .to_string();
    assert!(err.contains("linked against glibc"), "{err}");
    assert!(
        err.contains("bin/hello (interpreter /lib64/ld-linux-x86-64.so.2)"),
        "{err}"
    );
    assert!(err.contains("-static"), "the error says what to do: {err}");
    assert!(!fx.path("out/hello-1.0.0-r0.apk").exists());
}

#[test]
fn two_exports_of_one_package_with_one_key_are_the_same_bytes() {
    let fx = Fixture::new();
    let package = fx.package(&["-static", "-O2"]);
    let key = fx.key("signer.pem");
    let first = fx.export(&package, &key, "one").unwrap();
    let second = fx.export(&package, &key, "two").unwrap();
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(
            a.digest,
            b.digest,
            "{} and {}",
            a.path.display(),
            b.path.display()
        );
        assert_eq!(fs::read(&a.path).unwrap(), fs::read(&b.path).unwrap());
    }
}

#[test]
fn a_key_that_is_not_an_unencrypted_rsa_key_is_refused_naming_the_file_not_its_content() {
    let fx = Fixture::new();
    let package = fx.package(&["-static"]);

    let garbage = fx.path("garbage.pem");
    fs::write(&garbage, "SECRET-MATERIAL-1234\n").unwrap();
    let err = fx
        .export(&package, &garbage, "out")
        .unwrap_err()
        .to_string();
    assert!(err.contains(&garbage.display().to_string()), "{err}");
    assert!(err.contains("openssl genrsa"), "{err}");
    assert!(!err.contains("SECRET-MATERIAL"), "{err}");

    let encrypted = fx.path("encrypted.pem");
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .args(["-aes-256-cbc", "-pass", "pass:test", "-out"])
        .arg(&encrypted)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", said(&out));
    let err = fx
        .export(&package, &encrypted, "out")
        .unwrap_err()
        .to_string();
    assert!(err.contains("encrypted.pem: is encrypted"), "{err}");

    let ec = fx.path("ec.pem");
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&ec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", said(&out));
    let err = fx.export(&package, &ec, "out").unwrap_err().to_string();
    assert!(err.contains("ec.pem: is not an RSA private key"), "{err}");

    let missing = fx.path("missing.pem");
    let err = fx
        .export(&package, &missing, "out")
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.pem"), "{err}");
    assert!(!fx.path("out/hello-1.0.0-r0.apk").exists());
}
