//! The Debian packages a package was built over and runs with: the stack
//! image's, the dependency layer's, and the run-time closure the index names.

use std::collections::{BTreeMap, BTreeSet};

use bale_archive::Dependencies;

/// One package of a dpkg database (the caller reads them: a stack image's,
/// a dependency layer's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct InstalledPackage {
    /// The package's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its architecture (`amd64`, `all`, …).
    pub arch: String,
}

/// Why a Debian package is in the SBOM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The package needs it at run time (`[dependencies] runtime`, or detected).
    Runtime,
    /// Part of the stack image the package builds and runs on.
    Stack,
    /// Installed in the dependency layer for the build alone.
    Build,
}

impl Role {
    /// `runtime`, `stack` or `build`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Runtime => "runtime",
            Role::Stack => "stack",
            Role::Build => "build",
        }
    }
}

/// One Debian package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DebianPackage {
    /// The package's name.
    pub name: String,
    /// The version the build saw.
    pub version: String,
    /// Its architecture (`amd64`, `all`, …).
    pub arch: String,
    /// Why it is here.
    pub role: Role,
}

impl DebianPackage {
    /// `pkg:deb/debian/<name>@<version>?arch=<arch>`.
    pub fn purl(&self) -> String {
        format!(
            "pkg:deb/debian/{}@{}?arch={}",
            crate::purl_escape(&self.name),
            crate::purl_escape(&self.version),
            crate::purl_escape(&self.arch)
        )
    }
}

/// Every Debian package of a build's environment, sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// The packages.
    pub packages: Vec<DebianPackage>,
}

impl Environment {
    /// The environment from the stack's and the layer's package lists (the
    /// layer's status file holds the stack's packages too); `arch` is the
    /// architecture of a run-time dependency found in neither (a package
    /// built on the host).
    pub fn from_lists(
        stack: &[InstalledPackage],
        layer: &[InstalledPackage],
        dependencies: &Dependencies,
        arch: &str,
    ) -> Environment {
        let runtime: BTreeMap<&str, Option<&str>> = dependencies
            .runtime
            .iter()
            .map(|n| (base_name(n), None))
            .chain(
                dependencies
                    .detected
                    .iter()
                    .map(|spec| match spec.split_once('=') {
                        Some((name, version)) => (base_name(name), Some(version)),
                        None => (base_name(spec), None),
                    }),
            )
            .collect();
        let in_stack: BTreeSet<(&str, &str)> = stack
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        let mut found: BTreeMap<String, DebianPackage> = BTreeMap::new();
        for (p, from_layer) in stack
            .iter()
            .map(|p| (p, false))
            .chain(layer.iter().map(|p| (p, true)))
        {
            let role = if runtime.contains_key(p.name.as_str()) {
                Role::Runtime
            } else if from_layer && !in_stack.contains(&(p.name.as_str(), p.version.as_str())) {
                Role::Build
            } else {
                Role::Stack
            };
            // The layer's version wins: it is what the build ran with.
            found.insert(
                p.name.clone(),
                DebianPackage {
                    name: p.name.clone(),
                    version: p.version.clone(),
                    arch: p.arch.clone(),
                    role,
                },
            );
        }
        for (name, version) in runtime {
            if !found.contains_key(name) {
                found.insert(
                    name.to_owned(),
                    DebianPackage {
                        name: name.to_owned(),
                        version: version.unwrap_or("NOASSERTION").to_owned(),
                        arch: arch.to_owned(),
                        role: Role::Runtime,
                    },
                );
            }
        }
        Environment {
            packages: found.into_values().collect(),
        }
    }
}

/// `libc6:amd64` → `libc6`.
fn base_name(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, version: &str) -> InstalledPackage {
        InstalledPackage {
            name: name.into(),
            version: version.into(),
            arch: "amd64".into(),
        }
    }

    #[test]
    fn packages_are_runtime_stack_or_build_by_where_they_came_from() {
        let stack = [p("libc6", "2.36-9"), p("bash", "5.2")];
        let layer = [
            p("libc6", "2.36-9"),
            p("bash", "5.2"),
            p("gcc-12", "12.2"),
            p("libyaml-0-2", "0.2.5-1"),
        ];
        let deps = Dependencies {
            runtime: vec![],
            detected: vec!["libyaml-0-2=0.2.5-1".into(), "libc6=2.36-9".into()],
        };
        let env = Environment::from_lists(&stack, &layer, &deps, "amd64");
        let roles: Vec<(&str, Role)> = env
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.role))
            .collect();
        assert_eq!(
            roles,
            vec![
                ("bash", Role::Stack),
                ("gcc-12", Role::Build),
                ("libc6", Role::Runtime),
                ("libyaml-0-2", Role::Runtime)
            ]
        );
        assert_eq!(
            env.packages[3].purl(),
            "pkg:deb/debian/libyaml-0-2@0.2.5-1?arch=amd64"
        );
    }
}
