//! What goes into a layer's key: the build environment's packages, or the
//! runtime layer's with the detected ones pinned.

use std::collections::BTreeMap;

use bale_manifest::{Kinds, Manifest};
use sha2::{Digest, Sha256};

/// How bale makes a build environment; changed whenever that changes, so
/// layers made the old way are not reused. (Still 2: the build environment
/// holds what the single layer of format 2 held.)
const BUILD_FORMAT: &str = "2";

/// How bale makes a runtime layer. 3: the first format with a layer of its
/// own for running, holding pinned detected packages and no build packages.
const RUNTIME_FORMAT: &str = "3";

/// Which of a package's two layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerRole {
    /// What the build's actions run over: every package the build names.
    Build,
    /// What `[test]` and the deployed app run over: no build-only package.
    Runtime,
}

/// The architecture whose layers' keys name none, as every key did before
/// stacks had an architecture: their layers are found under the same key.
const UNMARKED_ARCH: &str = "amd64";

/// What goes into a layer's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInputs {
    /// The build environment or the runtime layer.
    pub role: LayerRole,
    /// The stack's identity by content (`StackImage::identity`: suite,
    /// architecture, packages), never the image's byte digest, so that two
    /// creations of one stack share their layers.
    pub stack_digest: String,
    /// The stack image's Debian architecture when it is not amd64 (see [`LayerInputs::for_arch`]).
    pub arch: Option<String>,
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
            arch: None,
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
            arch: None,
            kind: kind.to_owned(),
            kind_packages: sorted(kind_packages),
            build: Vec::new(),
            runtime: sorted(runtime.to_vec()),
            detected: sorted(detected),
        }
    }

    /// The same inputs for a stack image of Debian architecture `arch`. The
    /// image's digest already differs per architecture; the key names the
    /// architecture too, except amd64's, so amd64 keys stay the ones layers
    /// were kept under before.
    pub fn for_arch(mut self, arch: &str) -> LayerInputs {
        self.arch = (arch != UNMARKED_ARCH).then(|| arch.to_owned());
        self
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
        let text = match self.role {
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
        };
        match &self.arch {
            Some(arch) => format!("{text}\narch {arch}"),
            None => text,
        }
    }

    /// The layer's key.
    pub fn key(&self) -> String {
        hex::encode(Sha256::digest(self.describe().as_bytes()))
    }

    /// What the layer is called in notes and progress.
    pub(crate) fn title(&self) -> &'static str {
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
    fn the_key_changes_with_any_package_and_with_the_stack() {
        let base = inputs(&["libpq5"]);
        assert_ne!(base.key(), inputs(&["libpq5", "curl"]).key());
        let mut other_stack = base.clone();
        other_stack.stack_digest = "sha256:def".into();
        assert_ne!(base.key(), other_stack.key());
        assert_eq!(base.key(), inputs(&["libpq5"]).key());
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
    fn the_key_names_an_architecture_other_than_amd64_only() {
        let base = inputs(&["libpq5"]);
        assert_eq!(base.clone().for_arch("amd64").key(), base.key());
        let arm64 = base.clone().for_arch("arm64");
        assert_ne!(arm64.key(), base.key());
        assert!(
            arm64.describe().ends_with("\narch arm64"),
            "{}",
            arm64.describe()
        );
    }

    #[test]
    fn the_key_of_a_manifest_is_the_one_layers_were_kept_under_before() {
        // Computed by bale-build's LayerInputs before the layer had a crate of
        // its own: the text and its hash are unchanged. Since stacks are
        // identified by content, the `stack` line carries the identity where
        // it carried the image's byte digest, so real keys changed once then
        // (layers made over byte digests are made again, once).
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
}
