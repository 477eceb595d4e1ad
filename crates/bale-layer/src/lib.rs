//! Dependency layers over a stack image, each keyed by what went into it,
//! so a later build or deploy with the same key starts from it at once:
//!
//! - the **build environment** ([`LayerRole::Build`]): the kind's runtime and
//!   build packages and `[dependencies]` build and runtime;
//! - the **runtime layer** ([`LayerRole::Runtime`]): the kind's runtime
//!   packages, `[dependencies] runtime` and the detected packages at the
//!   versions the build saw; `[test]` and deployed apps run over it only.
//!
//! The install runs through an [`Install`]: a build runs it as a step of its
//! own log, the deployer with [`FileLog`].

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use bale_manifest::{Kinds, Manifest};
use bale_sandbox::{SandboxSpec, Upper};
use sha2::{Digest, Sha256};

pub mod dpkg;
mod error;
mod file_log;

pub use dpkg::{DpkgDatabase, Owner};
pub use error::LayerError;
pub use file_log::{FileLog, FileLogError};

/// The step's name in the log and the facts.
pub const STEP: &str = "dependencies";

/// The runtime layer's step in a build's log and facts.
pub const RUNTIME_STEP: &str = "runtime-layer";

/// Where the host's CA bundle is put while apt runs: Debian's
/// `ca-certificates` replaces the usual path, which must not be a mount point then.
const ASIDE_CA_BUNDLE: &str = "/tmp/bale-host-ca.crt";

/// How bale makes a build environment; changed whenever that changes, so
/// layers made the old way are not reused. (Still 2: the build environment
/// holds what the single layer of format 2 held.)
const BUILD_FORMAT: &str = "2";

/// How bale makes a runtime layer. 3: the first format with a layer of its
/// own for running, holding pinned detected packages and no build packages.
const RUNTIME_FORMAT: &str = "3";

/// What an unknown package's check prints, for the build to name it.
const UNKNOWN_MARK: &str = "bale: unknown package: ";

/// A dependency layer ready to be a lower layer above the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepsLayer {
    /// The layer's directory.
    pub dir: PathBuf,
    /// Its key: SHA-256 of the stack digest, the kind and the sorted package lists.
    pub key: String,
    /// Whether it was already there.
    pub reused: bool,
}

/// Which of a package's two layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerRole {
    /// What the build's actions run over: every package the build names.
    Build,
    /// What `[test]` and the deployed app run over: no build-only package.
    Runtime,
}

/// What goes into a layer's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInputs {
    /// The build environment or the runtime layer.
    pub role: LayerRole,
    /// The stack image's digest.
    pub stack_digest: String,
    /// The kind, if any.
    pub kind: String,
    /// The kind's packages (runtime and build-only for a build environment,
    /// runtime only for a runtime layer), sorted.
    pub kind_packages: Vec<String>,
    /// `[dependencies] build`, sorted; always empty in a runtime layer.
    pub build: Vec<String>,
    /// `[dependencies] runtime`, sorted.
    pub runtime: Vec<String>,
    /// The detected packages as `name=version`, sorted, less those the
    /// stack already holds at that version; always empty in a build environment.
    pub detected: Vec<String>,
}

impl LayerInputs {
    /// The inputs of the build environment `manifest` needs over the stack
    /// image `stack_digest`, its kind's packages taken from `kinds` (the
    /// shipped ones, or with an admin's kinds file merged in).
    pub fn new(stack_digest: &str, manifest: &Manifest, kinds: &Kinds) -> LayerInputs {
        let kind = manifest.kind().unwrap_or_default().to_string();
        let kind_packages: Vec<String> = kinds
            .get(&kind)
            .map(|k| k.runtime.iter().chain(&k.build).cloned().collect())
            .unwrap_or_default();
        LayerInputs {
            role: LayerRole::Build,
            stack_digest: stack_digest.to_owned(),
            kind,
            kind_packages: sorted(kind_packages),
            build: sorted(manifest.dependencies.build.clone()),
            runtime: sorted(manifest.dependencies.runtime.clone()),
            detected: Vec::new(),
        }
    }

    /// The inputs of the runtime layer of a package of kind `kind` whose
    /// index names `runtime` and `detected` (`name=version`), over the stack
    /// image `stack_digest` whose installed packages are `stack_installed`:
    /// a detected package the stack holds at that very version is left out,
    /// as installing it again would change nothing.
    pub fn runtime(
        stack_digest: &str,
        kind: &str,
        kinds: &Kinds,
        runtime: &[String],
        detected: &[String],
        stack_installed: &BTreeMap<String, String>,
    ) -> LayerInputs {
        let kind_packages: Vec<String> = kinds
            .get(kind)
            .map(|k| k.runtime.clone())
            .unwrap_or_default();
        let detected = detected
            .iter()
            .filter(|spec| match spec.split_once('=') {
                Some((name, version)) => {
                    stack_installed.get(name).map(String::as_str) != Some(version)
                }
                None => true,
            })
            .cloned()
            .collect();
        LayerInputs {
            role: LayerRole::Runtime,
            stack_digest: stack_digest.to_owned(),
            kind: kind.to_owned(),
            kind_packages: sorted(kind_packages),
            build: Vec::new(),
            runtime: sorted(runtime.to_vec()),
            detected: sorted(detected),
        }
    }

    /// Every package to install, sorted, once each; a package that is also
    /// detected is installed at the detected version only.
    pub fn packages(&self) -> Vec<String> {
        let pinned: Vec<&str> = self
            .detected
            .iter()
            .map(|spec| spec.split_once('=').map_or(spec.as_str(), |(name, _)| name))
            .collect();
        let mut all: Vec<String> = self
            .kind_packages
            .iter()
            .chain(&self.build)
            .chain(&self.runtime)
            .filter(|name| !pinned.contains(&name.as_str()))
            .chain(&self.detected)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The text the key hashes: one line per input.
    pub fn describe(&self) -> String {
        match self.role {
            LayerRole::Build => format!(
                "format {BUILD_FORMAT}\nstack {}\nkind {}\nkind packages {}\nbuild {}\nruntime {}",
                self.stack_digest,
                self.kind,
                self.kind_packages.join(" "),
                self.build.join(" "),
                self.runtime.join(" ")
            ),
            LayerRole::Runtime => format!(
                "format {RUNTIME_FORMAT}\nlayer runtime\nstack {}\nkind {}\nkind packages {}\nruntime {}\ndetected {}",
                self.stack_digest,
                self.kind,
                self.kind_packages.join(" "),
                self.runtime.join(" "),
                self.detected.join(" ")
            ),
        }
    }

    /// The layer's key.
    pub fn key(&self) -> String {
        hex::encode(Sha256::digest(self.describe().as_bytes()))
    }

    /// What the layer is called in notes and progress.
    fn title(&self) -> &'static str {
        match self.role {
            LayerRole::Build => "build environment",
            LayerRole::Runtime => "runtime layer",
        }
    }
}

/// Sorted, once each.
fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Where a layer is made and kept.
#[derive(Debug, Clone, Copy)]
pub struct LayerRequest<'a> {
    /// The stack image's root, the layer's lower layer.
    pub stack_root: &'a Path,
    /// Where layers over this stack are kept, one directory per key.
    pub layers_dir: &'a Path,
    /// Make the layer again even when it is there.
    pub fresh: bool,
    /// Note the key's inputs.
    pub verbose: bool,
}

/// Runs the layer's install script: a build as a step of its log, the
/// deployer with [`FileLog`].
pub trait Install {
    /// Why a run failed.
    type Error;
    /// Runs `script` by `/bin/sh -ec` in a sandbox made from `spec`, as step [`STEP`].
    fn run(&mut self, spec: &SandboxSpec, script: String) -> Result<(), Self::Error>;
    /// The last lines a failed run printed, where `error` has them: the
    /// layer names an unknown package from them.
    fn last_lines(error: &Self::Error) -> Option<&str>;
    /// Something worth saying that is not the script's output.
    fn note(&mut self, text: &str);
}

/// The dependency layer of `inputs` over `request`'s stack, made with
/// `install` when missing (or with `fresh`); `None` when there is nothing
/// to install.
pub fn prepare<I: Install>(
    request: &LayerRequest<'_>,
    inputs: &LayerInputs,
    install: &mut I,
) -> Result<Option<DepsLayer>, LayerError<I::Error>> {
    let layers_dir = request.layers_dir;
    let packages = inputs.packages();
    if packages.is_empty() {
        return Ok(None);
    }
    // Names go into a shell command: anything that is not a Debian package
    // name (with a version, for a detected one) is refused first.
    if let Some(bad) = packages.iter().find(|p| !is_package_spec(p)) {
        return Err(LayerError::UnknownPackage { name: bad.clone() });
    }
    let key = inputs.key();
    let title = inputs.title();
    if request.verbose {
        install.note(&format!("{title} {key} from:\n{}", inputs.describe()));
    }
    let dir = layers_dir.join(&key);
    // The layer is moved into place only once complete, so its presence means it is whole.
    if dir.is_dir() && !request.fresh {
        install.note(&format!("{title} {key}: reused"));
        return Ok(Some(DepsLayer {
            dir,
            key,
            reused: true,
        }));
    }
    fs::create_dir_all(layers_dir).map_err(|e| LayerError::io(layers_dir, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".building-")
        .tempdir_in(layers_dir)
        .map_err(|e| LayerError::io(layers_dir, e))?;
    let upper = staging.path().join("layer");
    let mut spec = SandboxSpec::new(vec![request.stack_root.to_path_buf()], Vec::new());
    spec.upper = Upper::Keep(upper.clone());
    // The only step with the network: apt fetches from the stack's mirror.
    spec.network = true;
    spec.ca_bundle_path = PathBuf::from(ASIDE_CA_BUNDLE);
    spec.env
        .push(("DEBIAN_FRONTEND".into(), "noninteractive".into()));
    // Checked above to hold no quote; quoted so that no character of a
    // version (`~`, `+`, `:`) means anything to the shell.
    let list = packages
        .iter()
        .map(|p| format!("'{p}'"))
        .collect::<Vec<_>>()
        .join(" ");
    // An https mirror behind a TLS-inspecting proxy needs the host's CAs too.
    let script = format!(
        "ca=${{SSL_CERT_FILE:+-o Acquire::https::CaInfo=$SSL_CERT_FILE}}\n\
         apt-get $ca update -q\n\
         for p in {list}; do apt-cache show \"$p\" >/dev/null 2>&1 || {{ echo \"{UNKNOWN_MARK}$p\"; exit 100; }}; done\n\
         apt-get $ca install -y -q --no-install-recommends {list}\n\
         apt-get clean\n\
         rm -rf /var/lib/apt/lists/*"
    );
    if let Err(e) = install.run(&spec, script) {
        let unknown = I::last_lines(&e).and_then(|lines| {
            lines
                .lines()
                .find_map(|l| l.strip_prefix(UNKNOWN_MARK))
                .map(str::to_owned)
        });
        return Err(match unknown {
            Some(spec) => match spec.split_once('=') {
                Some((name, version)) => LayerError::UnavailableVersion {
                    name: name.to_owned(),
                    version: version.to_owned(),
                },
                None => LayerError::UnknownPackage { name: spec },
            },
            None => LayerError::Install(e),
        });
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| LayerError::io(&dir, e))?;
    }
    fs::rename(&upper, &dir).map_err(|e| LayerError::io(&dir, e))?;
    Ok(Some(DepsLayer {
        dir,
        key,
        reused: false,
    }))
}

/// A Debian package name, optionally pinned to a version (`libxml2=2.9.14+dfsg-1.3~deb12u1`).
pub fn is_package_spec(spec: &str) -> bool {
    match spec.split_once('=') {
        Some((name, version)) => is_package_name(name) && is_version(version),
        None => is_package_name(spec),
    }
}

/// Debian's version syntax, loosely: `[epoch:]upstream[-revision]` of
/// `[A-Za-z0-9.+~:-]`, starting with a digit.
fn is_version(version: &str) -> bool {
    version.len() <= 128
        && version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'~' | b':' | b'-'))
}

/// Debian's package name syntax: `[a-z0-9][a-z0-9+.-]+`, with an optional `:arch`.
pub fn is_package_name(name: &str) -> bool {
    let base = name.split_once(':').map_or(name, |(b, arch)| {
        if arch.is_empty()
            || !arch
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            ""
        } else {
            b
        }
    });
    let mut bytes = base.bytes();
    matches!(bytes.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && base.len() >= 2
        && bytes.all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'.' | b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(runtime: &[&str]) -> LayerInputs {
        LayerInputs {
            role: LayerRole::Build,
            stack_digest: "sha256:abc".into(),
            kind: "python".into(),
            kind_packages: vec!["python3".into()],
            build: Vec::new(),
            runtime: runtime.iter().map(|s| s.to_string()).collect(),
            detected: Vec::new(),
        }
    }

    #[test]
    fn the_key_changes_with_any_package_and_with_the_stack() {
        let base = inputs(&["libpq5"]);
        assert_ne!(base.key(), inputs(&["libpq5", "curl"]).key());
        let mut other_stack = base.clone();
        other_stack.stack_digest = "sha256:def".into();
        assert_ne!(base.key(), other_stack.key());
        assert_eq!(base.key(), inputs(&["libpq5"]).key());
    }

    #[test]
    fn package_names_that_are_not_debian_names_are_refused() {
        for good in ["hello", "libstdc++6", "python3.11", "libc6:amd64", "g++"] {
            assert!(is_package_name(good), "{good}");
        }
        for bad in ["", "a", "Hello", "hello; rm -rf /", "-x", "hello:", "$(id)"] {
            assert!(!is_package_name(bad), "{bad}");
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_runtime_layer_holds_the_kinds_runtime_packages_and_the_detected_ones_pinned() {
        let stack: BTreeMap<String, String> = [
            ("libc6".to_owned(), "2.36-9+deb12u7".to_owned()),
            ("zlib1g".to_owned(), "1:1.2.13.dfsg-1".to_owned()),
        ]
        .into();
        let inputs = LayerInputs::runtime(
            "sha256:abc",
            "c",
            &Kinds::builtin(),
            &strings(&["libxml2", "curl"]),
            &strings(&[
                "libc6=2.36-9+deb12u7",
                "libxml2=2.9.14+dfsg-1.3~deb12u1",
                "zlib1g=1:1.2.13.dfsg-1+b1",
            ]),
            &stack,
        );
        assert_eq!(
            inputs.packages(),
            strings(&[
                "curl",
                "libxml2=2.9.14+dfsg-1.3~deb12u1",
                "zlib1g=1:1.2.13.dfsg-1+b1"
            ]),
            "no build-essential (the c kind's build package), libc6 as the stack has it left out, \
             libxml2 pinned once"
        );
        assert!(inputs.describe().starts_with("format 3\nlayer runtime\n"));
        let build = LayerInputs {
            role: LayerRole::Build,
            detected: Vec::new(),
            ..inputs.clone()
        };
        assert_ne!(
            inputs.key(),
            build.key(),
            "the two layers never share a key"
        );
    }

    #[test]
    fn detected_versions_are_debian_versions_and_nothing_else() {
        for good in [
            "libc6=2.36-9+deb12u7",
            "zlib1g=1:1.2.13.dfsg-1",
            "libxml2=2.9.14+dfsg-1.3~deb12u1",
        ] {
            assert!(is_package_spec(good), "{good}");
        }
        for bad in [
            "libc6=",
            "libc6=abc",
            "libc6=1 2",
            "libc6=1;id",
            "libc6=1'x",
            "=1.0",
            "libc6=1=2",
        ] {
            assert!(!is_package_spec(bad), "{bad}");
        }
    }

    #[test]
    fn the_key_of_a_manifest_is_the_one_layers_were_kept_under_before() {
        // Computed by bale-build's LayerInputs before the layer had a crate of
        // its own: layers made then must be found now.
        let text = "[package]\ngroup = \"org.example\"\nname = \"shop\"\nversion = \"1.0.0\"\n\n\
                    [stack]\nname = \"debian-bookworm\"\nkind = \"python\"\n\n\
                    [dependencies]\nruntime = [\"libpq5\", \"curl\"]\nbuild = [\"gcc\"]\n";
        let catalog = bale_manifest::Catalog::default();
        let manifest = Manifest::parse(
            "bale.toml",
            text,
            &catalog,
            &bale_manifest::ParseOptions::default(),
        )
        .unwrap_or_else(|d| panic!("{}", d.render(false)))
        .resolved(&catalog.kinds);
        let inputs = LayerInputs::new("sha256:abc", &manifest, &Kinds::builtin());
        assert_eq!(
            inputs.describe(),
            "format 2\nstack sha256:abc\nkind python\nkind packages python3 python3-venv\n\
             build gcc\nruntime curl libpq5"
        );
        assert_eq!(
            inputs.key(),
            "bc36236f5dace2d8bb4bec9984823965f2c622e7af970212207d55a65f014dc4"
        );
    }

    /// An install that records its scripts and answers as told.
    #[derive(Default)]
    struct Fake {
        scripts: Vec<String>,
        notes: Vec<String>,
        fail_with: Option<String>,
    }

    impl Install for Fake {
        type Error = String;

        fn run(&mut self, spec: &SandboxSpec, script: String) -> Result<(), String> {
            self.scripts.push(script);
            if let Some(lines) = &self.fail_with {
                return Err(lines.clone());
            }
            if let Upper::Keep(upper) = &spec.upper {
                fs::create_dir_all(upper).map_err(|e| e.to_string())?;
            }
            Ok(())
        }

        fn last_lines(error: &String) -> Option<&str> {
            Some(error)
        }

        fn note(&mut self, text: &str) {
            self.notes.push(text.to_owned());
        }
    }

    fn request(layers: &Path, fresh: bool) -> LayerRequest<'_> {
        LayerRequest {
            stack_root: Path::new("/nonexistent-stack"),
            layers_dir: layers,
            fresh,
            verbose: false,
        }
    }

    #[test]
    fn a_made_layer_is_reused_by_key_and_made_again_when_fresh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let inputs = inputs(&["libpq5"]);
        let mut fake = Fake::default();
        let made = prepare(&request(dir.path(), false), &inputs, &mut fake)
            .expect("made")
            .expect("a layer");
        assert!(!made.reused);
        assert_eq!(made.dir, dir.path().join(inputs.key()));
        assert!(made.dir.is_dir());
        assert!(
            fake.scripts[0].contains("install -y -q --no-install-recommends 'libpq5' 'python3'")
        );

        let again = prepare(&request(dir.path(), false), &inputs, &mut fake)
            .expect("reused")
            .expect("a layer");
        assert!(again.reused);
        assert_eq!(fake.scripts.len(), 1, "a kept layer runs nothing");

        let fresh = prepare(&request(dir.path(), true), &inputs, &mut fake)
            .expect("fresh")
            .expect("a layer");
        assert!(!fresh.reused);
        assert_eq!(fake.scripts.len(), 2);
    }

    #[test]
    fn an_unknown_package_is_named_from_the_scripts_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut fake = Fake {
            fail_with: Some(format!(
                "Reading package lists...\n{UNKNOWN_MARK}no-such-pkg"
            )),
            ..Fake::default()
        };
        match prepare(
            &request(dir.path(), false),
            &inputs(&["no-such-pkg"]),
            &mut fake,
        ) {
            Err(LayerError::UnknownPackage { name }) => assert_eq!(name, "no-such-pkg"),
            other => panic!("expected an unknown package, got {other:?}"),
        }
        assert!(
            !dir.path().join(inputs(&["no-such-pkg"]).key()).exists(),
            "a failed layer is not kept"
        );
        fake.fail_with = Some("E: network unreachable".into());
        match prepare(&request(dir.path(), false), &inputs(&["curl"]), &mut fake) {
            Err(LayerError::Install(lines)) => assert_eq!(lines, "E: network unreachable"),
            other => panic!("expected the install's error, got {other:?}"),
        }
    }

    #[test]
    fn a_name_that_is_no_debian_name_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut fake = Fake::default();
        match prepare(&request(dir.path(), false), &inputs(&["$(id)"]), &mut fake) {
            Err(LayerError::UnknownPackage { name }) => assert_eq!(name, "$(id)"),
            other => panic!("expected a refused name, got {other:?}"),
        }
        assert!(fake.scripts.is_empty());
    }

    #[test]
    fn nothing_to_install_makes_no_layer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut empty = inputs(&[]);
        empty.kind_packages.clear();
        let mut fake = Fake::default();
        assert!(prepare(&request(dir.path(), false), &empty, &mut fake)
            .expect("no error")
            .is_none());
        assert!(fake.scripts.is_empty());
    }
}
