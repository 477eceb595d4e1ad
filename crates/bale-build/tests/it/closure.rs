//! The two layers and the runtime closure over a real Debian stack: a C
//! program built against a `-dev` package records the runtime library with
//! the version the build environment held, and `[test]` runs over a runtime
//! layer holding that library and no compiler; a `[test]` needing a
//! build-only tool fails; a needed library nothing provides fails the build.
//!
//! Needs root, the stack image cache the bale-stack tests fill
//! (`BALE_TEST_STACK_CACHE`) and the network to the stack's Debian mirror.
//! The builds share one home (`BALE_TEST_CLOSURE_HOME`, default
//! `/var/tmp/bale-closure-home`), so the build environment made by one is
//! reused by the others and by the next run.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use bale_build::{BuildError, BuildRequest, Builder, Built};
use bale_home::Home;
use bale_layer::{DpkgDatabase, LayerInputs};
use bale_manifest::{Catalog, Kinds, Manifest, ParseOptions};
use bale_stack::{StackImage, Stacks};

/// A program that prints libyaml's version: it links `-lyaml`, which only
/// `libyaml-dev` (a build dependency) makes possible.
const YAMLVER_C: &str = "#include <stdio.h>\n#include <yaml.h>\n\
    int main(void) { printf(\"libyaml %s\\n\", yaml_get_version_string()); return 0; }\n";

/// The build dependencies of every build here: the same for all, so they
/// share one build environment (build-essential, the c kind's, and libyaml-dev).
const BUILD_DEPS: &str = "build = [\"libyaml-dev\"]";

/// One build at a time: they share the layers' directory.
static SHARED: Mutex<()> = Mutex::new(());

struct Setup {
    _guard: MutexGuard<'static, ()>,
    home: PathBuf,
    stacks: Stacks,
    image: StackImage,
    work: tempfile::TempDir,
}

fn setup() -> Option<Setup> {
    if !bale_testkit::require_stack_image("debian-bookworm") {
        return None;
    }
    let guard = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    let home = std::env::var_os("BALE_TEST_CLOSURE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/bale-closure-home"));
    let stacks = Stacks::load(&Home::new(home.clone()), None)
        .expect("stacks")
        .with_image_cache(bale_testkit::stack_cache());
    let image = match stacks.image("debian-bookworm") {
        Ok(image) => image,
        Err(_) => stacks
            .create("debian-bookworm", None, &mut |_| {})
            .expect("stack from the cache"),
    };
    let work = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    Some(Setup {
        _guard: guard,
        home,
        stacks,
        image,
        work,
    })
}

impl Setup {
    /// Builds a `c` package from `files` with `main` and `[test]` commands.
    fn build(
        &self,
        name: &str,
        files: &[(&str, &str)],
        main: &[&str],
        test: &[&str],
    ) -> (Manifest, Result<Built, BuildError>) {
        let src = self.work.path().join(name);
        std::fs::create_dir_all(&src).expect("mkdir");
        for (path, text) in files {
            std::fs::write(src.join(path), text).expect("write source");
        }
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|c| format!("{c:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let text = format!(
            "[package]\ngroup = \"org.example\"\nname = \"{name}\"\nversion = \"1.0.0\"\n\n\
             [stack]\nname = \"debian-bookworm\"\nkind = \"c\"\n\n\
             [dependencies]\n{BUILD_DEPS}\n\n[build]\nmain = [{}]\n\n[test]\ncommands = [{}]\n",
            list(main),
            list(test)
        );
        let catalog = Catalog::default();
        let manifest = Manifest::parse("bale.toml", &text, &catalog, &ParseOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render(false)))
            .resolved(&catalog.kinds);
        let layers = self.stacks.layers_dir("debian-bookworm");
        let request = BuildRequest {
            source_dir: &src,
            manifest: &manifest,
            stack: &self.image,
            layers_dir: Some(&layers),
            out_dir: &self.work.path().join("out"),
            scratch_dir: &self.work.path().join("tmp"),
            cache_dir: &self.home.join("cache"),
            hide: Vec::new(),
            fresh: false,
            verbose: false,
            arch: None,
        };
        let result = Builder::new()
            .expect("sandbox")
            .build(&request, &mut |_| {});
        (manifest, result)
    }

    fn layer(&self, key: &str) -> PathBuf {
        self.stacks.layers_dir("debian-bookworm").join(key)
    }
}

const YAMLVER_MAIN: &[&str] = &[
    "mkdir -p \"$BALE_PREFIX/bin\"",
    "cc -o \"$BALE_PREFIX/bin/yamlver\" yamlver.c -lyaml",
];

fn installed_version(root: &Path, package: &str) -> String {
    DpkgDatabase::of_root(root)
        .expect("a dpkg database")
        .installed()
        .expect("read it")
        .remove(package)
        .unwrap_or_else(|| panic!("{package} is not installed in {}", root.display()))
}

#[test]
fn a_program_built_against_a_dev_package_runs_over_its_runtime_library_and_no_compiler() {
    let Some(setup) = setup() else { return };
    let (manifest, built) = setup.build(
        "yamlver",
        &[("yamlver.c", YAMLVER_C)],
        YAMLVER_MAIN,
        &[
            "yamlver | grep -q '^libyaml 0[.]'",
            "! command -v gcc",
            "! command -v cc",
            "! test -e /usr/bin/x86_64-linux-gnu-gcc-12",
            "! test -e /usr/include/yaml.h",
        ],
    );
    let built = built.unwrap_or_else(|e| panic!("the build: {e}"));

    // The runtime library, traced through the build environment's layer,
    // with the version installed there; libc6 from the stack too.
    let build_layer = setup.layer(built.facts.layer.as_deref().expect("a build environment"));
    let yaml_version = installed_version(&build_layer, "libyaml-0-2");
    let dependencies = &built.package.written.index.dependencies;
    assert!(dependencies.runtime.is_empty());
    assert!(
        dependencies
            .detected
            .contains(&format!("libyaml-0-2={yaml_version}")),
        "{dependencies:?}"
    );
    let libc = installed_version(&setup.image.root, "libc6");
    assert!(
        dependencies.detected.contains(&format!("libc6={libc}")),
        "{dependencies:?}"
    );
    assert!(
        !dependencies
            .detected
            .iter()
            .any(|d| d.starts_with("libyaml-dev")),
        "{dependencies:?}"
    );

    // The runtime layer `[test]` ran over: the library, no compiler, no headers.
    let stack = DpkgDatabase::of_root(&setup.image.root)
        .expect("the stack's database")
        .installed()
        .expect("read it");
    let runtime = LayerInputs::runtime(
        &setup.image.identity,
        "c",
        &Kinds::builtin(),
        &dependencies.runtime,
        &dependencies.detected,
        &stack,
    );
    assert_eq!(
        runtime.packages(),
        vec![format!("libyaml-0-2={yaml_version}")],
        "libc6 is in the stack at that version already"
    );
    let runtime_layer = setup.layer(&runtime.key());
    assert!(runtime_layer
        .join("usr/lib/x86_64-linux-gnu/libyaml-0.so.2")
        .exists());
    for absent in [
        "usr/bin/gcc",
        "usr/bin/x86_64-linux-gnu-gcc-12",
        "usr/include/yaml.h",
    ] {
        assert!(
            !runtime_layer.join(absent).exists() && !setup.image.root.join(absent).exists(),
            "{absent} is in the runtime root"
        );
    }
    assert!(
        build_layer.join("usr/bin/x86_64-linux-gnu-gcc-12").exists(),
        "the build environment has the compiler"
    );
    assert_eq!(manifest.test.commands.len(), built.facts.tests);
}

#[test]
fn a_test_that_needs_a_build_only_tool_fails_naming_it() {
    let Some(setup) = setup() else { return };
    let (_, built) = setup.build(
        "needsgcc",
        &[("yamlver.c", YAMLVER_C)],
        YAMLVER_MAIN,
        &["yamlver", "gcc --version"],
    );
    match built {
        Err(BuildError::StepFailed {
            step,
            command,
            last_lines,
            ..
        }) => {
            assert_eq!(step, "test");
            assert_eq!(command, "gcc --version");
            assert!(last_lines.contains("gcc: not found"), "{last_lines}");
        }
        other => panic!("expected [test] to fail without gcc, got {other:?}"),
    }
}

#[test]
fn a_needed_library_nothing_provides_fails_the_build_naming_it_and_the_file() {
    let Some(setup) = setup() else { return };
    let (_, built) = setup.build(
        "unshipped",
        &[
            ("greet.c", "const char *greeting(void) { return \"hi\"; }\n"),
            (
                "hello.c",
                "#include <stdio.h>\nconst char *greeting(void);\n\
                 int main(void) { puts(greeting()); return 0; }\n",
            ),
        ],
        &[
            "cc -shared -fPIC -Wl,-soname,libgreet.so.1 -o libgreet.so.1 greet.c",
            "mkdir -p \"$BALE_PREFIX/bin\"",
            // The library is made and linked but not installed into the package.
            "cc -o \"$BALE_PREFIX/bin/hello\" hello.c ./libgreet.so.1",
        ],
        &["hello"],
    );
    match built {
        Err(e @ BuildError::UnresolvedLibraries { .. }) => {
            let BuildError::UnresolvedLibraries { libraries } = &e else {
                unreachable!()
            };
            assert_eq!(libraries.len(), 1, "{libraries:?}");
            assert_eq!(libraries[0].library, "libgreet.so.1");
            assert_eq!(libraries[0].needed_by, vec!["bin/hello".to_owned()]);
            let message = e.to_string();
            assert!(
                message.contains("libgreet.so.1, needed by bin/hello")
                    && message.contains("[dependencies] runtime"),
                "{message}"
            );
        }
        other => panic!("expected an unresolved library, got {other:?}"),
    }
}
