//! Builds for another architecture than the machine's, under emulation, and
//! builds on the debian-trixie stack: real software, one build each.
//!
//! GNU hello's release tarball (`bale_testkit::upstream`) is built for
//! arm64 on `debian-bookworm@arm64`: the stack's own gcc and make run
//! through qemu-user-static (binfmt_misc, F flag) inside the sandbox, no
//! cross toolchain; its `[test]` runs the arm64 hello in the arm64 stack.
//! examples/flask-notes (python) is built for arm64 too, and
//! examples/hello-c on debian-trixie. The stacks come from the image cache
//! (`BALE_TEST_STACK_CACHE`; made there when missing) and live, with their
//! dependency layers, in a home kept in the upstream cache, so a later run
//! reuses them. Needs root; an amd64 machine for the arm64 builds; the
//! network to the Debian mirror (and PyPI for flask-notes) the first time.

use std::path::{Path, PathBuf};

use bale_build::{BuildRequest, Builder, Built};
use bale_home::Home;
use bale_manifest::{Catalog, Manifest, ParseOptions};
use bale_stack::{machine_arch, StackImage, Stacks};
use bale_testkit::{is_root, require, upstream};

/// Stack `name`'s image for `arch` and its layers' directory, in the home
/// kept in the upstream cache; made from (or into) the image cache.
fn stack(name: &str, arch: &str) -> Option<(StackImage, PathBuf)> {
    if !require(is_root(), "building on a Debian stack needs root") {
        return None;
    }
    let home = Home::new(upstream::upstream_cache().join("home"));
    let stacks = Stacks::load(&home, None)
        .expect("stacks")
        .with_image_cache(bale_testkit::stack_cache())
        .with_arch(arch)
        .expect("a known arch");
    let image = stacks.image(name).unwrap_or_else(|_| {
        stacks
            .create(name, None, &mut |line| eprintln!("{line}"))
            .unwrap_or_else(|e| panic!("stack {name} for {arch}: {e}"))
    });
    Some((image, stacks.layers_dir(name)))
}

fn parse(text: &str) -> Manifest {
    let catalog = Catalog::default();
    Manifest::parse("bale.toml", text, &catalog, &ParseOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(false)))
        .resolved(&catalog.kinds)
}

fn build(stack: &(StackImage, PathBuf), dir: &Path, src: &Path, manifest: &Manifest) -> Built {
    let request = BuildRequest {
        source_dir: src,
        manifest,
        stack: &stack.0,
        layers_dir: Some(&stack.1),
        out_dir: &dir.join("out"),
        scratch_dir: &dir.join("tmp"),
        cache_dir: &dir.join("cache"),
        hide: Vec::new(),
        fresh: false,
        verbose: false,
        arch: None,
    };
    Builder::new()
        .expect("sandbox")
        .build(&request, &mut |_| {})
        .unwrap_or_else(|e| panic!("building {}: {e}", manifest.package.name))
}

fn test_step(built: &Built) -> &str {
    built
        .facts
        .steps
        .iter()
        .find(|s| s.name == "test")
        .map_or("absent", |s| s.status.as_str())
}

/// The ELF machine (`e_machine`) of file `path` inside the built package.
fn elf_machine(built: &Built, path: &str) -> u16 {
    let dest = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let file = std::fs::File::open(&built.package.path).expect("open the package");
    bale_archive::unpack(file, dest.path(), &Default::default()).expect("unpack");
    let bytes = std::fs::read(dest.path().join("app").join(path))
        .or_else(|_| std::fs::read(dest.path().join(path)))
        .unwrap_or_else(|e| panic!("{path} in the package: {e}"));
    assert_eq!(&bytes[..4], b"\x7fELF", "{path} is an ELF file");
    u16::from_le_bytes([bytes[18], bytes[19]])
}

/// `EM_AARCH64`.
const EM_AARCH64: u16 = 183;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
}

#[test]
fn gnu_hello_builds_for_arm64_under_emulation_and_greets_there() {
    if !require(
        machine_arch() == "amd64",
        "the arm64 build under emulation is tested on amd64 machines",
    ) {
        return;
    }
    let Some(arm64) = stack("debian-bookworm", "arm64") else {
        return;
    };
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let src = dir.path().join("src");
    upstream::unpack(&upstream::orig_tarball("hello"), &src);
    let text = "[package]\ngroup = \"org.debian.upstream\"\nname = \"hello\"\nversion = \"1.0.0\"\n\n\
         [stack]\nname = \"debian-bookworm\"\nkind = \"c\"\n\n\
         [test]\ncommands = [\"test \\\"$(uname -m)\\\" = aarch64\", \"test \\\"$(hello)\\\" = 'Hello, world!'\"]\n";
    std::fs::write(src.join("bale.toml"), text).expect("write bale.toml");
    let manifest = parse(text);
    let built = build(&arm64, dir.path(), &src, &manifest);
    assert_eq!(
        test_step(&built),
        "ok",
        "the packaged arm64 hello greets in the arm64 stack"
    );
    let index = &built.package.written.index;
    assert_eq!(index.arch.as_deref(), Some("arm64"));
    assert_eq!(index.arch(), "arm64");
    assert_eq!(elf_machine(&built, "bin/hello"), EM_AARCH64);
}

#[test]
fn a_python_example_builds_for_arm64_under_emulation() {
    if !require(
        machine_arch() == "amd64",
        "the arm64 build under emulation is tested on amd64 machines",
    ) {
        return;
    }
    let Some(arm64) = stack("debian-bookworm", "arm64") else {
        return;
    };
    let src = example("flask-notes");
    let text = std::fs::read_to_string(src.join("bale.toml")).expect("read bale.toml");
    let manifest = parse(&text);
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let built = build(&arm64, dir.path(), &src, &manifest);
    assert_eq!(test_step(&built), "ok", "the app answers /healthz on arm64");
    assert_eq!(built.package.written.index.arch(), "arm64");
}

#[test]
fn the_c_example_builds_on_debian_trixie() {
    let Some(trixie) = stack("debian-trixie", machine_arch()) else {
        return;
    };
    let src = example("hello-c");
    let text = std::fs::read_to_string(src.join("bale.toml"))
        .expect("read bale.toml")
        .replace("name = \"debian-bookworm\"", "name = \"debian-trixie\"");
    assert!(text.contains("debian-trixie"));
    let manifest = parse(&text);
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let built = build(&trixie, dir.path(), &src, &manifest);
    assert_eq!(test_step(&built), "ok", "hello-c greets on trixie");
    assert_eq!(built.package.written.index.stack.name, "debian-trixie");
}
