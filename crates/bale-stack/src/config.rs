//! Which stacks exist: the shipped `stacks.toml`, overridable by the admin.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StackError;

/// The stack definitions shipped with bale.
pub const SHIPPED_STACKS: &str = include_str!("../stacks.toml");

/// How one stack is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum StackDef {
    /// A Debian base system made by debootstrap.
    Debootstrap {
        /// The Debian suite, e.g. `bookworm`.
        suite: String,
        /// The debootstrap variant, e.g. `minbase`.
        #[serde(default = "default_variant")]
        variant: String,
        /// Archive components, e.g. `main`.
        #[serde(default = "default_components")]
        components: Vec<String>,
        /// Extra packages installed into the base system.
        #[serde(default)]
        include: Vec<String>,
        /// The Debian mirror for this stack; default: the configuration's, else the host's.
        #[serde(default)]
        mirror: Option<String>,
    },
    /// The host's own root file system, read-only.
    Host {},
}

fn default_variant() -> String {
    "minbase".to_string()
}

fn default_components() -> Vec<String> {
    vec!["main".to_string()]
}

/// The parsed configuration: every stack by name, and a default mirror.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StacksConfig {
    /// The Debian mirror used when neither the command nor the stack names one.
    #[serde(default)]
    pub mirror: Option<String>,
    /// A directory of pristine images that `create` copies from instead of
    /// running debootstrap, and fills after a run (see [`crate::Stacks::with_image_cache`]).
    #[serde(default, rename = "image-cache")]
    pub image_cache: Option<PathBuf>,
    /// The stacks by name.
    #[serde(default)]
    pub stacks: BTreeMap<String, StackDef>,
}

impl StacksConfig {
    /// Parses one configuration file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<StacksConfig, StackError> {
        let config: StacksConfig = toml::from_str(text).map_err(|e| StackError::Config {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        for name in config.stacks.keys() {
            check_name(name)?;
        }
        Ok(config)
    }

    /// The shipped configuration with `over` laid on top: its stacks replace
    /// or add to the shipped ones, its mirror and image cache win when set.
    pub fn merged(mut self, over: StacksConfig) -> StacksConfig {
        if over.mirror.is_some() {
            self.mirror = over.mirror;
        }
        if over.image_cache.is_some() {
            self.image_cache = over.image_cache;
        }
        self.stacks.extend(over.stacks);
        self
    }

    /// The shipped configuration, then `override_path` if given, else
    /// `$BALE_HOME/stacks.toml` if it exists.
    pub fn load(
        home_override: PathBuf,
        override_path: Option<&Path>,
    ) -> Result<StacksConfig, StackError> {
        let shipped = StacksConfig::parse(SHIPPED_STACKS, Path::new("<shipped stacks.toml>"))?;
        let path = match override_path {
            Some(p) => Some(p.to_path_buf()),
            None => home_override.is_file().then_some(home_override),
        };
        let Some(path) = path else { return Ok(shipped) };
        let text = std::fs::read_to_string(&path).map_err(|source| StackError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(shipped.merged(StacksConfig::parse(&text, &path)?))
    }
}

/// Stack names become directory names: keep them plain.
pub fn check_name(name: &str) -> Result<(), StackError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.' || b == b'_'
        });
    if ok {
        Ok(())
    } else {
        Err(StackError::BadName {
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_stacks_include_bookworm_and_host() {
        let c = StacksConfig::parse(SHIPPED_STACKS, Path::new("stacks.toml")).unwrap();
        assert_eq!(c.stacks["host"], StackDef::Host {});
        let StackDef::Debootstrap {
            suite,
            variant,
            components,
            ..
        } = &c.stacks["debian-bookworm"]
        else {
            panic!()
        };
        assert_eq!((suite.as_str(), variant.as_str()), ("bookworm", "minbase"));
        assert_eq!(components, &["main"]);
    }

    #[test]
    fn an_override_replaces_a_stack_and_adds_others() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("stacks.toml");
        std::fs::write(
            &file,
            "mirror = \"http://mirror.example/debian\"\n[stacks.debian-bookworm]\nkind = \"debootstrap\"\nsuite = \"bookworm\"\ninclude = [\"ca-certificates\"]\n[stacks.debian-trixie]\nkind = \"debootstrap\"\nsuite = \"trixie\"\n",
        )
        .unwrap();
        let c = StacksConfig::load(dir.path().join("absent.toml"), Some(&file)).unwrap();
        assert_eq!(c.mirror.as_deref(), Some("http://mirror.example/debian"));
        let StackDef::Debootstrap {
            include, variant, ..
        } = &c.stacks["debian-bookworm"]
        else {
            panic!()
        };
        assert_eq!(include, &["ca-certificates"]);
        assert_eq!(variant, "minbase");
        assert!(c.stacks.contains_key("debian-trixie"));
        assert!(c.stacks.contains_key("host"));
        assert_eq!(c.image_cache, None);
    }

    #[test]
    fn an_override_can_name_an_image_cache() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("stacks.toml");
        std::fs::write(&file, "image-cache = \"/var/tmp/images\"\n").unwrap();
        let c = StacksConfig::load(dir.path().join("absent.toml"), Some(&file)).unwrap();
        assert_eq!(c.image_cache.as_deref(), Some(Path::new("/var/tmp/images")));
        assert!(c.stacks.contains_key("debian-bookworm"));
    }

    #[test]
    fn unknown_fields_are_errors_that_name_the_file() {
        let err = StacksConfig::parse(
            "[stacks.x]\nkind = \"host\"\nsuit = \"a\"\n",
            Path::new("/etc/bale/stacks.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/etc/bale/stacks.toml") && msg.contains("suit"),
            "{msg}"
        );
    }

    #[test]
    fn names_that_are_not_plain_are_refused() {
        assert!(check_name("debian-bookworm").is_ok());
        for bad in ["", "../etc", "Debian", "a/b", ".hidden"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
