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

use std::fs;
use std::path::{Path, PathBuf};

use bale_sandbox::{SandboxSpec, Upper};

mod error;
mod file_log;
mod inputs;

// The dpkg database is read by the stack too (its identity); one reader for both.
pub use bale_stack::dpkg;
pub use bale_stack::dpkg::{DpkgDatabase, InstalledPackage, Owner};
pub use error::LayerError;
pub use file_log::{FileLog, FileLogError};
pub use inputs::{LayerInputs, LayerRole};

/// The step's name in the log and the facts.
pub const STEP: &str = "dependencies";

/// The runtime layer's step in a build's log and facts.
pub const RUNTIME_STEP: &str = "runtime-layer";

/// Where the host's CA bundle is put while apt runs: Debian's
/// `ca-certificates` replaces the usual path, which must not be a mount point then.
const ASIDE_CA_BUNDLE: &str = "/tmp/bale-host-ca.crt";

/// What an unknown package's check prints, for the build to name it.
const UNKNOWN_MARK: &str = "bale: unknown package: ";

/// A dependency layer ready to be a lower layer above the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepsLayer {
    /// The layer's directory.
    pub dir: PathBuf,
    /// Its key: SHA-256 of the stack's identity, the kind and the sorted package lists.
    pub key: String,
    /// Whether it was already there.
    pub reused: bool,
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
            arch: None,
            kind: "python".into(),
            kind_packages: vec!["python3".into()],
            build: Vec::new(),
            runtime: runtime.iter().map(|s| s.to_string()).collect(),
            detected: Vec::new(),
        }
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
