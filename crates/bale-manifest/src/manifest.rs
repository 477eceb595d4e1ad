//! Reading a manifest from a file or text, resolving kind defaults, and the
//! accessors the rest of bale uses.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bale_coordinate::{Coordinate, CoordinateError};
use toml_edit::ImDocument;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::kinds::Kinds;
use crate::schema::{Health, Kit, Manifest, Port, Switch, Variable};
use crate::walk::Walk;
use crate::{parse, render, Catalog, ParseOptions};

/// Build timeout when `[build] timeout` is not set.
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(3600);
/// Health timeout when a kit's `health.timeout` is not set.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
/// Run working directory when `[run] workdir` is not set.
pub const DEFAULT_WORKDIR: &str = "app";
/// The largest bale.toml accepted: what the archive reader takes for a
/// package's `.bale/manifest.toml` (`bale_archive::Limits::max_index_bytes`).
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// The diagnostic for text that is not TOML at all.
fn syntax_problem(source: &str, error: &toml_edit::TomlError) -> Diagnostic {
    let message = error
        .message()
        .trim()
        .lines()
        .collect::<Vec<_>>()
        .join(": ");
    let duplicate = message.contains("duplicate key");
    let (label, help) = if duplicate {
        (
            "defined again here",
            "each key may appear only once in a table: remove or rename one of them",
        )
    } else {
        ("here", "fix the TOML syntax here (see https://toml.io)")
    };
    let span = error.span().map(|span| {
        if duplicate {
            whole_key(source, span)
        } else {
            span
        }
    });
    Diagnostic::new(span, format!("invalid TOML: {message}"), label).help(help)
}

/// Widens a span that starts a bare key or a `[header]` to all of it, so a duplicate is underlined entirely.
fn whole_key(source: &str, span: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let is_key = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let Some(rest) = source.get(span.start..) else {
        return span;
    };
    if rest.starts_with('[') {
        let line = rest.split('\n').next().unwrap_or(rest);
        return match line.rfind(']') {
            Some(close) => span.start..span.start + close + 1,
            None => span,
        };
    }
    let key_len = rest.find(|c: char| !is_key(c)).unwrap_or(rest.len());
    if span.end <= span.start + 1 && key_len > 1 {
        span.start..span.start + key_len
    } else {
        span
    }
}

impl Manifest {
    /// Reads and checks the manifest at `path`.
    pub fn from_path(
        path: &Path,
        catalog: &Catalog,
        options: &ParseOptions,
    ) -> Result<Manifest, Diagnostics> {
        let origin = path.display().to_string();
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.len() > MAX_MANIFEST_BYTES {
                let diagnostic = Diagnostic::new(
                    None,
                    format!(
                        "{origin} is {} bytes, more than the {MAX_MANIFEST_BYTES} bytes a package's manifest may hold",
                        meta.len()
                    ),
                    "",
                )
                .help("a package could not be read back with it; keep bale.toml small (move data into files of the source tree)");
                return Err(Diagnostics::new(origin, "", vec![diagnostic]));
            }
        }
        match std::fs::read_to_string(path) {
            Ok(text) => Manifest::parse(&origin, &text, catalog, options),
            Err(error) => {
                let help = if error.kind() == std::io::ErrorKind::NotFound {
                    "run `bale init` in the source directory to write a starting bale.toml"
                } else {
                    "check that the file exists and is readable"
                };
                let diagnostic =
                    Diagnostic::new(None, format!("cannot read {origin}: {error}"), "").help(help);
                Err(Diagnostics::new(origin, "", vec![diagnostic]))
            }
        }
    }

    /// Reads and checks manifest `text`; `origin` names it in messages. Every problem is reported at once.
    pub fn parse(
        origin: &str,
        text: &str,
        catalog: &Catalog,
        options: &ParseOptions,
    ) -> Result<Manifest, Diagnostics> {
        let doc = ImDocument::parse(text)
            .map_err(|e| Diagnostics::new(origin, text, vec![syntax_problem(text, &e)]))?;
        let mut walk = Walk::default();
        let manifest = parse::manifest(&doc, catalog, options, &mut walk);
        if walk.diags.is_empty() {
            Ok(manifest)
        } else {
            Err(Diagnostics::new(origin, text, walk.diags))
        }
    }

    /// Parses the resolved manifest an installed package carries. Its stack
    /// and kind were checked on the machine that built it, against that
    /// machine's catalog, so here any stack or kind name is accepted; every
    /// other rule holds.
    pub fn parse_installed(origin: &str, text: &str) -> Result<Manifest, Diagnostics> {
        let mut catalog = Catalog::default();
        if let Ok(doc) = ImDocument::parse(text) {
            let stack = doc.get("stack");
            if let Some(name) = stack.and_then(|s| s.get("name")).and_then(|n| n.as_str()) {
                if !catalog.stacks.iter().any(|s| s == name) {
                    catalog.stacks.push(name.to_owned());
                }
            }
            if let Some(kind) = stack.and_then(|s| s.get("kind")).and_then(|k| k.as_str()) {
                if catalog.kinds.get(kind).is_none() {
                    catalog.kinds.insert(kind, crate::Kind::default());
                }
            }
        }
        Self::parse(origin, text, &catalog, &ParseOptions::default())
    }

    /// This manifest with the kind's default `before`, `main`, `after` and
    /// `finalize` filled in where unset (empty without a kind).
    pub fn resolved(&self, kinds: &Kinds) -> Manifest {
        let mut resolved = self.clone();
        let kind = self.stack.kind.as_deref().and_then(|k| kinds.get(k));
        if resolved.build.before.is_none() {
            resolved.build.before = Some(kind.map(|k| k.before.clone()).unwrap_or_default());
        }
        if resolved.build.after.is_none() {
            resolved.build.after = Some(kind.map(|k| k.after.clone()).unwrap_or_default());
        }
        if resolved.build.main.is_none() {
            resolved.build.main = Some(kind.map(|k| k.main.clone()).unwrap_or_default());
        }
        if resolved.build.finalize.is_none() {
            resolved.build.finalize = Some(kind.map(|k| k.finalize.clone()).unwrap_or_default());
        }
        resolved
    }

    /// Deterministic TOML (stable order) that parses back to an equal manifest.
    pub fn to_toml(&self) -> String {
        render::to_toml(self)
    }

    /// The package's `group:name:version`.
    pub fn coordinate(&self) -> Result<Coordinate, CoordinateError> {
        Coordinate::new(
            &self.package.group,
            &self.package.name,
            &self.package.version,
        )
    }

    /// The kind, if the manifest names one.
    pub fn kind(&self) -> Option<&str> {
        self.stack.kind.as_deref()
    }

    /// Long-lived services: name → command.
    pub fn services(&self) -> &BTreeMap<String, String> {
        &self.run.services
    }

    /// The kit covering `service`, with the kit's name.
    pub fn kit_for_service(&self, service: &str) -> Option<(&str, &Kit)> {
        self.kits
            .iter()
            .find(|(name, kit)| kit.covers(name, service))
            .map(|(name, kit)| (name.as_str(), kit))
    }

    /// The port `service` listens on: the first port of its kit (`$PORT`).
    pub fn port_for_service(&self, service: &str) -> Option<u16> {
        self.kit_for_service(service)
            .and_then(|(_, kit)| kit.first_port())
            .map(|p| p.port)
    }

    /// How a deploy replaces `service`: its kit's `switch` (a service without a kit overlaps).
    pub fn switch_for_service(&self, service: &str) -> Switch {
        self.kit_for_service(service)
            .map(|(_, kit)| kit.switch)
            .unwrap_or_default()
    }

    /// The kit with `main = true`, or else the first kit by name.
    pub fn main_kit(&self) -> Option<(&str, &Kit)> {
        self.kits
            .iter()
            .find(|(_, kit)| kit.main)
            .or_else(|| self.kits.iter().next())
            .map(|(name, kit)| (name.as_str(), kit))
    }

    /// Every variable of every kit, by name.
    pub fn variables(&self) -> BTreeMap<&str, &Variable> {
        self.kits
            .values()
            .flat_map(|kit| kit.variables.iter().map(|(name, v)| (name.as_str(), v)))
            .collect()
    }

    /// Every variable that has a default, with that default.
    pub fn variable_defaults(&self) -> BTreeMap<String, String> {
        self.kits
            .values()
            .flat_map(Kit::variable_defaults)
            .collect()
    }

    /// Run working directory relative to the package root (default `app`).
    pub fn workdir(&self) -> &str {
        self.run.workdir.as_deref().unwrap_or(DEFAULT_WORKDIR)
    }

    /// Limit on the whole build (default one hour).
    pub fn build_timeout(&self) -> Duration {
        self.build
            .timeout
            .as_ref()
            .map_or(DEFAULT_BUILD_TIMEOUT, |t| t.as_duration())
    }

    /// Build memory limit in bytes, if set.
    pub fn build_memory(&self) -> Option<u64> {
        self.build.memory.as_ref().map(|m| m.bytes())
    }
}

impl Kit {
    /// Whether this kit, called `kit_name`, covers `service`.
    pub fn covers(&self, kit_name: &str, service: &str) -> bool {
        match &self.services {
            Some(services) => services.iter().any(|s| s == service),
            None => kit_name == service,
        }
    }

    /// The first port: the one handed to the service as `$PORT`.
    pub fn first_port(&self) -> Option<&Port> {
        self.ports.first()
    }

    /// The variables with a default, with that default.
    pub fn variable_defaults(&self) -> BTreeMap<String, String> {
        self.variables
            .iter()
            .filter_map(|(name, v)| Some((name.clone(), v.default.clone()?)))
            .collect()
    }
}

impl Health {
    /// How long the service may take to become healthy (default 30 seconds).
    pub fn timeout(&self) -> Duration {
        self.timeout
            .as_ref()
            .map_or(DEFAULT_HEALTH_TIMEOUT, |t| t.as_duration())
    }
}
