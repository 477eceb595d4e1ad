//! The dependency layer over a real Debian stack: built with apt, reused by
//! key, and an unknown package named.
//!
//! Needs root, the stack image cache the bale-stack tests fill
//! (`BALE_TEST_STACK_CACHE`, default `/var/tmp/bale-stack-cache`), and the
//! network to the stack's Debian mirror; not run without the first two
//! (a failure under CI=true).

use std::sync::Mutex;

use bale_build::{BuildError, BuildEvent, BuildRequest, Builder, Built};
use bale_home::Home;
use bale_manifest::{Catalog, Manifest, ParseOptions};
use bale_stack::{StackImage, Stacks};

fn manifest(runtime: &str) -> Manifest {
    let text = format!(
        "[package]\ngroup = \"org.example\"\nname = \"layered\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"debian-bookworm\"\n\n\
         [dependencies]\nruntime = [{runtime}]\n\n[build]\nmain = [\"hello --version | head -1\"]\n\n[test]\ncommands = [\"hello\"]\n"
    );
    let catalog = Catalog::default();
    Manifest::parse("bale.toml", &text, &catalog, &ParseOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render(false)))
        .resolved(&catalog.kinds)
}

struct Setup {
    dir: tempfile::TempDir,
    stacks: Stacks,
    image: StackImage,
}

impl Setup {
    fn build(&self, manifest: &Manifest, fresh: bool) -> (Result<Built, BuildError>, Vec<String>) {
        let src = self.dir.path().join("src");
        std::fs::create_dir_all(&src).expect("mkdir");
        let layers = self.stacks.layers_dir("debian-bookworm");
        let request = BuildRequest {
            source_dir: &src,
            manifest,
            stack: &self.image,
            layers_dir: Some(&layers),
            out_dir: &self.dir.path().join("out"),
            scratch_dir: &self.dir.path().join("tmp"),
            cache_dir: &self.dir.path().join("cache"),
            hide: Vec::new(),
            fresh,
            verbose: true,
            arch: None,
        };
        let notes = Mutex::new(Vec::new());
        let mut events = |e: BuildEvent<'_>| {
            if let BuildEvent::Note(text) = e {
                notes.lock().expect("lock").push(text.to_string());
            }
        };
        let result = Builder::new()
            .expect("sandbox")
            .build(&request, &mut events);
        (result, notes.into_inner().expect("lock"))
    }
}

fn setup() -> Option<Setup> {
    if !bale_testkit::require_stack_image("debian-bookworm") {
        return None;
    }
    let dir = tempfile::tempdir_in("/var/tmp").expect("tempdir");
    let stacks = Stacks::load(&Home::new(dir.path().join("home")), None)
        .expect("stacks")
        .with_image_cache(bale_testkit::stack_cache());
    let image = stacks
        .create("debian-bookworm", None, &mut |_| {})
        .expect("stack from the cache");
    Some(Setup { dir, stacks, image })
}

fn step_status(built: &Built, name: &str) -> String {
    built
        .facts
        .steps
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.status.clone())
        .unwrap_or_default()
}

#[test]
fn runtime_packages_go_into_a_layer_that_the_next_build_reuses_and_an_unknown_package_is_named() {
    let Some(setup) = setup() else { return };
    let m = manifest("\"hello\"");

    let (first, notes) = setup.build(&m, false);
    let first = first.unwrap_or_else(|e| panic!("first build: {e}"));
    assert_eq!(step_status(&first, "dependencies"), "ok");
    assert_eq!(
        step_status(&first, "runtime-layer"),
        "ok",
        "`hello` goes into the runtime layer too"
    );
    assert_eq!(
        step_status(&first, "test"),
        "ok",
        "the test stage sees the layer's `hello`"
    );
    let key = first.facts.layer.clone().expect("a layer key");
    assert!(setup
        .stacks
        .layers_dir("debian-bookworm")
        .join(&key)
        .is_dir());
    assert!(
        notes
            .iter()
            .any(|n| n.contains(&key) && n.contains("runtime hello")),
        "-v shows the key's inputs: {notes:?}"
    );

    let (second, _) = setup.build(&m, false);
    let second = second.unwrap_or_else(|e| panic!("second build: {e}"));
    assert_eq!(step_status(&second, "dependencies"), "cached");
    assert_eq!(step_status(&second, "runtime-layer"), "cached");
    assert_eq!(second.facts.layer.as_deref(), Some(key.as_str()));

    let (fresh, _) = setup.build(&m, true);
    assert_eq!(
        step_status(
            &fresh.unwrap_or_else(|e| panic!("fresh build: {e}")),
            "dependencies"
        ),
        "ok"
    );

    let (unknown, _) = setup.build(&manifest("\"hello\", \"no-such-package-bale\""), false);
    match unknown {
        Err(BuildError::UnknownPackage { name }) => assert_eq!(name, "no-such-package-bale"),
        other => panic!("expected an unknown package, got {other:?}"),
    }
}
