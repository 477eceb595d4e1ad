//! Real upstream release tarballs, as Debian ships them (`.orig.tar.*`,
//! without Debian's patches), built with their own build systems on the
//! debian-bookworm stack, whose layers hold no autotools: GNU hello
//! (autotools), cmark (CMake), fribidi (Meson).
//!
//! The tarballs come from `bale_testkit::upstream` (fetched once with
//! `apt-get source`, then cached). The stack and the dependency layers live
//! in a home kept in the same cache, so a later run builds at once. Needs
//! root and the stack image cache the bale-stack tests fill
//! (`BALE_TEST_STACK_CACHE`); not run without them (a failure under
//! CI=true). A first run needs the network to the Debian mirror.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bale_build::{BuildRequest, Builder, Built};
use bale_home::Home;
use bale_manifest::{Catalog, Manifest, ParseOptions};
use bale_stack::{StackImage, Stacks};
use bale_testkit::upstream;

const STACK: &str = "debian-bookworm";

/// The stack over which every upstream build runs, and its layers'
/// directory, both kept in the upstream cache between runs.
struct Bookworm {
    image: StackImage,
    layers: PathBuf,
}

fn bookworm() -> Option<&'static Bookworm> {
    static READY: OnceLock<Option<Bookworm>> = OnceLock::new();
    READY
        .get_or_init(|| {
            if !bale_testkit::require_stack_image(STACK) {
                return None;
            }
            let home = Home::new(upstream::upstream_cache().join("home"));
            let stacks = Stacks::load(&home, None)
                .expect("stacks")
                .with_image_cache(bale_testkit::stack_cache());
            let image = stacks.image(STACK).unwrap_or_else(|_| {
                stacks
                    .create(STACK, None, &mut |_| {})
                    .expect("the stack from the image cache")
            });
            Some(Bookworm {
                layers: stacks.layers_dir(STACK),
                image,
            })
        })
        .as_ref()
}

/// The release tarball of Debian source package `package` unpacked into
/// a fresh directory, with `bale.toml` written beside its files.
fn unpacked(package: &str, manifest_tail: &str) -> (tempfile::TempDir, PathBuf, Manifest) {
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let src = dir.path().join("src");
    upstream::unpack(&upstream::orig_tarball(package), &src);
    let text = format!(
        "[package]\ngroup = \"org.debian.upstream\"\nname = \"{package}\"\nversion = \"1.0.0\"\n\n\
         [stack]\nname = \"{STACK}\"\nkind = \"c\"\n\n{manifest_tail}"
    );
    std::fs::write(src.join("bale.toml"), &text).expect("write bale.toml");
    let catalog = Catalog::default();
    let manifest = Manifest::parse("bale.toml", &text, &catalog, &ParseOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(false)))
        .resolved(&catalog.kinds);
    (dir, src, manifest)
}

/// Builds `src` into `<dir>/<out>`; a failure panics with the build's
/// error, which holds the failed command and its last lines.
fn build(builder: &Builder, dir: &Path, src: &Path, manifest: &Manifest, out: &str) -> Built {
    let stack = bookworm().expect("checked by the caller");
    let request = BuildRequest {
        source_dir: src,
        manifest,
        stack: &stack.image,
        layers_dir: Some(&stack.layers),
        out_dir: &dir.join(out),
        scratch_dir: &dir.join("tmp"),
        cache_dir: &dir.join("cache"),
        hide: Vec::new(),
        fresh: false,
        verbose: false,
        arch: None,
    };
    builder
        .build(&request, &mut |_| {})
        .unwrap_or_else(|e| panic!("building {}: {e}", manifest.package.name))
}

fn packaged(built: &Built) -> Vec<&str> {
    built
        .package
        .written
        .index
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect()
}

fn test_step(built: &Built) -> &str {
    built
        .facts
        .steps
        .iter()
        .find(|s| s.name == "test")
        .map_or("absent", |s| s.status.as_str())
}

/// Fails the build when the stack or its layers hold autotools, which
/// would hide a source copy that makes `make` regenerate `configure`.
const NO_AUTOTOOLS: &str = r#"before = ['if command -v aclocal || command -v automake || command -v autoconf; then echo "autotools are in the stack" >&2; exit 1; fi']"#;

#[test]
fn an_autotools_release_tarball_builds_without_autotools_and_reproducibly() {
    if bookworm().is_none() {
        return;
    }
    let (dir, src, manifest) = unpacked(
        "hello",
        &format!(
            "[build]\n{NO_AUTOTOOLS}\n\n[test]\ncommands = [\"test \\\"$(hello)\\\" = 'Hello, world!'\"]\n"
        ),
    );
    let builder = Builder::new().expect("sandbox");
    let built = build(&builder, dir.path(), &src, &manifest, "out");
    assert!(
        packaged(&built).contains(&"bin/hello"),
        "{:?}",
        packaged(&built)
    );
    assert_eq!(test_step(&built), "ok", "the packaged hello greets");

    let again = build(&builder.varied(), dir.path(), &src, &manifest, "again");
    assert_eq!(
        again.package.written.sha256, built.package.written.sha256,
        "a second build, as `bale build --check` makes it, gives the same bytes"
    );
}

#[test]
fn a_cmake_release_tarball_builds_and_its_binary_runs() {
    if bookworm().is_none() {
        return;
    }
    let (dir, src, manifest) = unpacked(
        "cmark",
        &format!(
            r##"[dependencies]
build = ["cmake"]

[build]
{NO_AUTOTOOLS}
main = [
  'cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$BALE_PREFIX" -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_INSTALL_RPATH="$BALE_PREFIX/lib" -DCMARK_TESTS=OFF -DCMARK_STATIC=OFF',
  'cmake --build build -j"$(nproc)"',
  'cmake --install build',
]

[test]
commands = ['test "$(printf "# Hi\n" | cmark)" = "<h1>Hi</h1>"']
"##
        ),
    );
    let built = build(
        &Builder::new().expect("sandbox"),
        dir.path(),
        &src,
        &manifest,
        "out",
    );
    let files = packaged(&built);
    assert!(files.contains(&"bin/cmark"), "{files:?}");
    assert!(
        files.iter().any(|f| f.starts_with("lib/libcmark.so.")),
        "{files:?}"
    );
    assert_eq!(
        test_step(&built),
        "ok",
        "the packaged cmark renders Markdown"
    );
}

#[test]
fn a_meson_release_tarball_builds_and_its_binary_runs() {
    if bookworm().is_none() {
        return;
    }
    let (dir, src, manifest) = unpacked(
        "fribidi",
        &format!(
            r#"[dependencies]
build = ["meson", "ninja-build", "pkg-config"]

[build]
{NO_AUTOTOOLS}
main = [
  'LDFLAGS="-Wl,-rpath,$BALE_PREFIX/lib" meson setup build --prefix="$BALE_PREFIX" --libdir=lib -Ddocs=false',
  'ninja -C build install',
]

[test]
commands = ['test "$(printf "abc DEF\n" | fribidi --charset CapRTL --nopad)" = "abc FED"']
"#
        ),
    );
    let built = build(
        &Builder::new().expect("sandbox"),
        dir.path(),
        &src,
        &manifest,
        "out",
    );
    let files = packaged(&built);
    assert!(files.contains(&"bin/fribidi"), "{files:?}");
    assert!(files.contains(&"lib/libfribidi.so.0"), "{files:?}");
    assert_eq!(
        test_step(&built),
        "ok",
        "the packaged fribidi reorders right-to-left text"
    );
}
