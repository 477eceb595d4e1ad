//! Steps 2–3, runtime and dependencies: the kind's packages and the
//! manifest's Debian packages installed with apt into a layer kept over the
//! stack, keyed by what went into it, so a later build with the same key
//! starts from it at once.

use std::fs;
use std::path::PathBuf;
use std::time::Instant;

use bale_manifest::Kinds;
use bale_sandbox::{Sandbox, SandboxSpec, Upper};
use sha2::{Digest, Sha256};

use crate::build::BuildRequest;
use crate::step::{run_step, BuildEvent, Log};
use crate::BuildError;

/// The step's name in the log and the facts.
pub const STEP: &str = "dependencies";

/// Where the host's CA bundle is put while apt runs: Debian's
/// `ca-certificates` replaces the usual path, which must not be a mount point then.
const ASIDE_CA_BUNDLE: &str = "/tmp/bale-host-ca.crt";

/// How bale makes a layer; changed whenever that changes, so layers made
/// the old way are not reused.
const LAYER_FORMAT: &str = "2";

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

/// What goes into a layer's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInputs {
    /// The stack image's digest.
    pub stack_digest: String,
    /// The kind, if any.
    pub kind: String,
    /// The kind's packages (runtime and build-only), sorted.
    pub kind_packages: Vec<String>,
    /// `[dependencies] build`, sorted.
    pub build: Vec<String>,
    /// `[dependencies] runtime`, sorted.
    pub runtime: Vec<String>,
}

impl LayerInputs {
    /// The inputs of `request`'s layer with the shipped kinds; where an
    /// admin's kinds file may apply, use [`LayerInputs::with_kinds`].
    pub fn of(request: &BuildRequest<'_>) -> LayerInputs {
        Self::with_kinds(request, &Kinds::builtin())
    }

    /// The inputs of `request`'s layer, its kind's packages taken from `kinds`.
    pub fn with_kinds(request: &BuildRequest<'_>, kinds: &Kinds) -> LayerInputs {
        let manifest = request.manifest;
        let kind = manifest.kind().unwrap_or_default().to_string();
        let mut kind_packages: Vec<String> = kinds
            .get(&kind)
            .map(|k| k.runtime.iter().chain(&k.build).cloned().collect())
            .unwrap_or_default();
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v.dedup();
            v
        };
        kind_packages = sorted(kind_packages);
        LayerInputs {
            stack_digest: request.stack.digest.clone(),
            kind,
            kind_packages,
            build: sorted(manifest.dependencies.build.clone()),
            runtime: sorted(manifest.dependencies.runtime.clone()),
        }
    }

    /// Every package to install, sorted, once each.
    pub fn packages(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .kind_packages
            .iter()
            .chain(&self.build)
            .chain(&self.runtime)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// The text the key hashes: one line per input.
    pub fn describe(&self) -> String {
        format!(
            "format {LAYER_FORMAT}\nstack {}\nkind {}\nkind packages {}\nbuild {}\nruntime {}",
            self.stack_digest,
            self.kind,
            self.kind_packages.join(" "),
            self.build.join(" "),
            self.runtime.join(" ")
        )
    }

    /// The layer's key.
    pub fn key(&self) -> String {
        hex::encode(Sha256::digest(self.describe().as_bytes()))
    }
}

/// [`prepare_with_kinds`] with the shipped kinds.
pub fn prepare(
    sandbox: &Sandbox,
    request: &BuildRequest<'_>,
    deadline: Instant,
    log: &mut Log<'_>,
) -> Result<Option<DepsLayer>, BuildError> {
    prepare_with_kinds(sandbox, &Kinds::builtin(), request, deadline, log)
}

/// The dependency layer for `request`, its kind's packages taken from
/// `kinds`, built when missing (or with `fresh`); `None` when the stack
/// keeps no layers (the `host` stack) or there is nothing to install.
pub fn prepare_with_kinds(
    sandbox: &Sandbox,
    kinds: &Kinds,
    request: &BuildRequest<'_>,
    deadline: Instant,
    log: &mut Log<'_>,
) -> Result<Option<DepsLayer>, BuildError> {
    let Some(layers_dir) = request.layers_dir else {
        return Ok(None);
    };
    let inputs = LayerInputs::with_kinds(request, kinds);
    let packages = inputs.packages();
    if packages.is_empty() {
        return Ok(None);
    }
    // Names go into a shell command: anything that is not a Debian package name is refused first.
    if let Some(bad) = packages.iter().find(|p| !is_package_name(p)) {
        return Err(BuildError::UnknownPackage { name: bad.clone() });
    }
    let key = inputs.key();
    if request.verbose {
        log.event(BuildEvent::Note(&format!(
            "dependency layer {key} from:\n{}",
            inputs.describe()
        )));
    }
    let dir = layers_dir.join(&key);
    // The layer is moved into place only once complete, so its presence means it is whole.
    if dir.is_dir() && !request.fresh {
        log.event(BuildEvent::Note(&format!("dependency layer {key}: reused")));
        return Ok(Some(DepsLayer {
            dir,
            key,
            reused: true,
        }));
    }
    fs::create_dir_all(layers_dir).map_err(|e| BuildError::io(layers_dir, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".building-")
        .tempdir_in(layers_dir)
        .map_err(|e| BuildError::io(layers_dir, e))?;
    let upper = staging.path().join("layer");
    let mut spec = SandboxSpec::new(vec![request.stack.root.clone()], Vec::new());
    spec.upper = Upper::Keep(upper.clone());
    // The only step with the network: apt fetches from the stack's mirror.
    spec.network = true;
    spec.ca_bundle_path = PathBuf::from(ASIDE_CA_BUNDLE);
    spec.env
        .push(("DEBIAN_FRONTEND".into(), "noninteractive".into()));
    let list = packages.join(" ");
    // An https mirror behind a TLS-inspecting proxy needs the host's CAs too.
    let script = format!(
        "ca=${{SSL_CERT_FILE:+-o Acquire::https::CaInfo=$SSL_CERT_FILE}}\n\
         apt-get $ca update -q\n\
         for p in {list}; do apt-cache show \"$p\" >/dev/null 2>&1 || {{ echo \"{UNKNOWN_MARK}$p\"; exit 100; }}; done\n\
         apt-get $ca install -y -q --no-install-recommends {list}\n\
         apt-get clean\n\
         rm -rf /var/lib/apt/lists/*"
    );
    match run_step(sandbox, &spec, STEP, &[script], deadline, log) {
        Ok(_) => {}
        Err(BuildError::StepFailed { last_lines, .. }) if last_lines.contains(UNKNOWN_MARK) => {
            let name = last_lines
                .lines()
                .find_map(|l| l.strip_prefix(UNKNOWN_MARK))
                .unwrap_or_default()
                .to_string();
            return Err(BuildError::UnknownPackage { name });
        }
        Err(e) => return Err(e),
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| BuildError::io(&dir, e))?;
    }
    fs::rename(&upper, &dir).map_err(|e| BuildError::io(&dir, e))?;
    Ok(Some(DepsLayer {
        dir,
        key,
        reused: false,
    }))
}

/// Debian's package name syntax: `[a-z0-9][a-z0-9+.-]+`, with an optional `:arch`.
fn is_package_name(name: &str) -> bool {
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
            stack_digest: "sha256:abc".into(),
            kind: "python".into(),
            kind_packages: vec!["python3".into()],
            build: Vec::new(),
            runtime: runtime.iter().map(|s| s.to_string()).collect(),
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
}
