//! The SBOMs and signed provenance `bale build` writes beside a package,
//! checked with the standard tools: pyspdxtools (SPDX 2.3), cyclonedx-python-lib's
//! strict validator (CycloneDX 1.6), securesystemslib (DSSE); and `bale verify --provenance`.
//!
//! Needs root, the cached debian-bookworm image (`BALE_TEST_STACK_CACHE`),
//! the network to the Debian mirror and the Python tools `scripts/test`
//! installs. The home is kept between runs (`BALE_TEST_SBOM_HOME`, default
//! `/var/tmp/bale-sbom-e2e-home`) so its layers are made once.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::OnceLock;

use assert_cmd::Command;
use base64::Engine;
use predicates::prelude::*;

fn home() -> PathBuf {
    std::env::var_os("BALE_TEST_SBOM_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/bale-sbom-e2e-home"))
}

fn bale() -> Command {
    crate::common::bale_with_home(&home())
}

const MANIFEST: &str = r#"[package]
group = "org.example"
name = "yamlsbom"
version = "1.0.0"

[stack]
name = "debian-bookworm"
kind = "c"

[dependencies]
build = ["libyaml-dev"]

[build]
main = ['mkdir -p "$BALE_PREFIX/bin" "$BALE_PREFIX/share"', 'cc -o "$BALE_PREFIX/bin/yamlsbom" yamlsbom.c -lyaml', 'echo hello > "$BALE_PREFIX/share/greeting"']
"#;

const PROGRAM: &str = "#include <stdio.h>\n#include <yaml.h>\n\
    int main(void) { printf(\"libyaml %s\\n\", yaml_get_version_string()); return 0; }\n";

/// Two builds of one source, signed with the key `sbom`.
struct Builds {
    _work: tempfile::TempDir,
    first: PathBuf,
    second: PathBuf,
}

/// The builds, made once for every test here; `None` when the machine lacks what they need.
fn builds() -> Option<&'static Builds> {
    static BUILDS: OnceLock<Option<Builds>> = OnceLock::new();
    BUILDS
        .get_or_init(|| {
            if !bale_testkit::require_stack_image("debian-bookworm")
                || !bale_testkit::require(
                    python_has("spdx_tools")
                        && python_has("cyclonedx")
                        && python_has("securesystemslib"),
                    "needs pip's spdx-tools, cyclonedx-python-lib and securesystemslib (scripts/test installs them)",
                )
            {
                return None;
            }
            Some(build_twice())
        })
        .as_ref()
}

fn python_has(module: &str) -> bool {
    Process::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn build_twice() -> Builds {
    std::fs::create_dir_all(home()).expect("home");
    let config = format!(
        "image-cache = {:?}\n",
        bale_testkit::stack_cache().display().to_string()
    );
    std::fs::write(home().join("stacks.toml"), config).expect("stacks.toml");
    if !home().join("stacks/debian-bookworm/stack.json").is_file() {
        bale()
            .args(["stack", "create", "debian-bookworm"])
            .assert()
            .success();
    }
    if !home().join("keys/sbom.key").is_file() {
        bale()
            .args(["key", "generate", "--name", "sbom"])
            .assert()
            .success();
    }
    let work = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let src = work.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    std::fs::write(src.join("bale.toml"), MANIFEST).expect("write");
    std::fs::write(src.join("yamlsbom.c"), PROGRAM).expect("write");
    let build = |out: &str| -> PathBuf {
        let built = bale()
            .arg("build")
            .arg(&src)
            .arg("-o")
            .arg(work.path().join(out))
            .args(["--key", "sbom", "--json"])
            .output()
            .expect("run bale");
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let printed: serde_json::Value = serde_json::from_slice(&built.stdout).expect("json");
        assert_eq!(
            printed["attestations"].as_array().map(Vec::len),
            Some(3),
            "{printed}"
        );
        PathBuf::from(printed["path"].as_str().expect("the package's path"))
    };
    let first = build("one");
    let second = build("two");
    Builds {
        _work: work,
        first,
        second,
    }
}

/// `<package><suffix>`.
fn beside(package: &Path, suffix: &str) -> PathBuf {
    let mut name = package.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn python(script: &str, args: &[&Path]) -> std::process::Output {
    Process::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python3")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

#[test]
fn the_spdx_document_validates_with_pyspdxtools() {
    let Some(builds) = builds() else { return };
    let spdx = beside(&builds.first, ".spdx.json");
    let out = Process::new("pyspdxtools")
        .arg("-i")
        .arg(&spdx)
        .output()
        .expect("run pyspdxtools");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_spdx_document_names_the_package_its_files_and_its_runtime_debian_packages() {
    let Some(builds) = builds() else { return };
    let doc = json(&beside(&builds.first, ".spdx.json"));
    let packages = doc["packages"].as_array().expect("packages");
    let purls: Vec<&str> = packages
        .iter()
        .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
        .collect();
    assert!(
        purls.contains(&"pkg:bale/org.example/yamlsbom@1.0.0"),
        "{purls:?}"
    );
    let libyaml = purls
        .iter()
        .find(|p| p.starts_with("pkg:deb/debian/libyaml-0-2@"))
        .expect("the runtime library's Debian package");
    assert!(libyaml.ends_with("?arch=amd64"), "{libyaml}");
    let binary = doc["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["fileName"] == "./bin/yamlsbom")
        .expect("the program");
    let algorithms: Vec<&str> = binary["checksums"]
        .as_array()
        .expect("checksums")
        .iter()
        .filter_map(|c| c["algorithm"].as_str())
        .collect();
    assert_eq!(algorithms, ["SHA1", "SHA256"]);
    let runtime = doc["relationships"]
        .as_array()
        .expect("relationships")
        .iter()
        .filter(|r| r["relationshipType"] == "RUNTIME_DEPENDENCY_OF")
        .count();
    assert!(runtime >= 1, "no runtime dependency recorded");
}

#[test]
fn the_cyclonedx_document_passes_strict_1_6_validation() {
    let Some(builds) = builds() else { return };
    let cdx = beside(&builds.first, ".cdx.json");
    let out = python(
        "import sys\n\
         from cyclonedx.schema import SchemaVersion\n\
         from cyclonedx.validation.json import JsonStrictValidator\n\
         error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n\
         if error is not None:\n    sys.exit(f'invalid: {error}')\n",
        &[&cdx],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn two_builds_write_the_same_sbom_bytes() {
    let Some(builds) = builds() else { return };
    for suffix in [".spdx.json", ".cdx.json"] {
        assert_eq!(
            std::fs::read(beside(&builds.first, suffix)).expect("read"),
            std::fs::read(beside(&builds.second, suffix)).expect("read"),
            "{suffix} differs between two builds of one source"
        );
    }
}

/// A copy of the package and its signature, with its provenance's payload changed by one byte.
fn tampered_copy(package: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join(package.file_name().expect("name"));
    std::fs::copy(package, &copy).expect("copy");
    bale_sign_beside(package, &copy);
    let mut envelope = json(&beside(package, ".intoto.json"));
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut payload = b64
        .decode(envelope["payload"].as_str().expect("payload"))
        .expect("base64");
    let at = payload.len() / 2;
    payload[at] ^= 0x01;
    envelope["payload"] = b64.encode(payload).into();
    std::fs::write(
        beside(&copy, ".intoto.json"),
        serde_json::to_vec(&envelope).expect("json"),
    )
    .expect("write");
    copy
}

#[test]
fn verify_provenance_passes_for_the_build_and_refuses_a_tampered_payload() {
    let Some(builds) = builds() else { return };
    bale()
        .arg("verify")
        .arg(&builds.first)
        .arg("--provenance")
        .assert()
        .success()
        .stdout(predicate::str::contains("provenance: good"));
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = tampered_copy(&builds.first, dir.path());
    bale()
        .arg("verify")
        .arg(&copy)
        .arg("--provenance")
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "does not match its payload: the statement was changed after it was signed",
        ));
}

#[test]
fn verify_provenance_refuses_a_missing_file_and_another_package_s_provenance() {
    let Some(builds) = builds() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let lone = dir.path().join("lone.bale");
    std::fs::copy(&builds.first, &lone).expect("copy");
    bale_sign_beside(&builds.first, &lone);
    bale()
        .arg("verify")
        .arg(&lone)
        .arg("--provenance")
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("has no provenance")
                .and(predicate::str::contains("lone.bale.intoto.json is missing")),
        );
    // The package, signed, and beside it another package's signed provenance.
    let tiny = dir.path().join("tiny");
    std::fs::create_dir_all(&tiny).expect("mkdir");
    std::fs::write(
        tiny.join("bale.toml"),
        "[package]\ngroup = \"org.example\"\nname = \"tiny\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\n\n[build]\nmain = [\"mkdir -p $BALE_PREFIX/share\", \"echo tiny > $BALE_PREFIX/share/tiny\"]\n",
    )
    .expect("write");
    let built = bale()
        .arg("build")
        .arg(&tiny)
        .arg("-o")
        .arg(dir.path().join("tiny-out"))
        .args(["--key", "sbom", "--json"])
        .output()
        .expect("run bale");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&built.stdout).expect("json");
    let tiny_package = PathBuf::from(printed["path"].as_str().expect("path"));
    std::fs::copy(
        beside(&tiny_package, ".intoto.json"),
        beside(&lone, ".intoto.json"),
    )
    .expect("copy");
    bale()
        .arg("verify")
        .arg(&lone)
        .arg("--provenance")
        .assert()
        .failure()
        .stderr(predicate::str::contains("not this package"));
}

/// Copies the minisig of `from` beside `to`.
fn bale_sign_beside(from: &Path, to: &Path) {
    std::fs::copy(beside(from, ".minisig"), beside(to, ".minisig")).expect("copy the signature");
}

#[test]
fn securesystemslib_verifies_the_envelope_and_refuses_a_tampered_one() {
    let Some(builds) = builds() else { return };
    // The minisign public key as securesystemslib's ed25519 key: the raw 32
    // bytes after minisign's algorithm and key id, in hex.
    let public = std::fs::read_to_string(home().join("keys/sbom.pub")).expect("public key");
    let line = public.lines().nth(1).expect("the key line");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(line.trim())
        .expect("base64");
    let key_id = format!(
        "{:X}",
        u64::from_le_bytes(raw[2..10].try_into().expect("8 bytes"))
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("key.json");
    std::fs::write(
        &key_file,
        serde_json::to_vec(&serde_json::json!({
            "keyid": key_id,
            "keytype": "ed25519",
            "scheme": "ed25519",
            "keyval": {"public": hex_of(&raw[10..42])},
        }))
        .expect("json"),
    )
    .expect("write");
    let script = "import json, sys\n\
        from securesystemslib.dsse import Envelope\n\
        from securesystemslib.signer import SSlibKey\n\
        k = json.load(open(sys.argv[1]))\n\
        key = SSlibKey.from_dict(k.pop('keyid'), k)\n\
        env = Envelope.from_dict(json.load(open(sys.argv[2])))\n\
        env.verify([key], 1)\n\
        print('verified')\n";
    let good = python(script, &[&key_file, &beside(&builds.first, ".intoto.json")]);
    assert!(
        good.status.success() && String::from_utf8_lossy(&good.stdout).contains("verified"),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let copy = tampered_copy(&builds.first, dir.path());
    let bad = python(script, &[&key_file, &beside(&copy, ".intoto.json")]);
    assert!(
        !bad.status.success(),
        "securesystemslib accepted a tampered payload"
    );
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("Verification"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn publish_sends_the_sboms_and_provenance_and_the_repository_serves_them() {
    let Some(builds) = builds() else { return };
    let s = crate::common::Scratch::new();
    s.bale()
        .arg("key")
        .arg("trust")
        .arg(home().join("keys/sbom.pub"))
        .assert()
        .success();
    let out = s
        .bale()
        .args(["token", "create", "--scope", "publish", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let token = token["token"].as_str().expect("token").to_owned();
    let port = crate::common::free_port();
    let _server = s.serve().port(port).start();
    let repo = format!("http://127.0.0.1:{port}");
    s.bale()
        .env("BALE_TOKEN", &token)
        .arg("publish")
        .arg(&builds.first)
        .args(["--repo", &repo])
        .assert()
        .success();
    let name = builds
        .first
        .file_name()
        .and_then(|n| n.to_str())
        .expect("the package's name");
    for suffix in [".spdx.json", ".cdx.json", ".intoto.json"] {
        let url = format!("{repo}/org/example/yamlsbom/1.0.0/{name}{suffix}");
        let (status, body) = crate::common::get_with_token(&url, None);
        assert_eq!(status, 200, "GET {url}");
        assert_eq!(
            body,
            std::fs::read(beside(&builds.first, suffix)).expect("read"),
            "{url} serves other bytes than were published"
        );
    }
    // Published again: the same files change nothing.
    s.bale()
        .env("BALE_TOKEN", &token)
        .arg("publish")
        .arg(&builds.first)
        .args(["--repo", &repo])
        .assert()
        .success();

    // Fetched: the SBOMs and provenance come beside the package, and the
    // provenance verifies there.
    let fetched = s.path().join("fetched");
    s.bale()
        .args(["fetch", "org.example:yamlsbom:1.0.0", "--repo", &repo, "-o"])
        .arg(&fetched)
        .assert()
        .success();
    let package = fetched.join(name);
    for suffix in [".spdx.json", ".cdx.json", ".intoto.json"] {
        assert_eq!(
            std::fs::read(beside(&package, suffix)).expect("fetched beside the package"),
            std::fs::read(beside(&builds.first, suffix)).expect("read"),
            "{suffix}"
        );
    }
    s.bale()
        .arg("verify")
        .arg(&package)
        .arg("--provenance")
        .assert()
        .success();
}
