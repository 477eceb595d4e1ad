//! The `control` file: the package's identity and relations as dpkg reads them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bale_archive::Index;
use bale_manifest::{Kinds, Manifest};

use super::layout::Layout;

/// Who a package is from when its manifest names nobody (or names no mail address).
pub(crate) const DEFAULT_MAINTAINER: &str = "bale export <bale-export@example.org>";

/// The facts the control file is made of.
pub(crate) struct Control<'a> {
    pub layout: &'a Layout,
    pub manifest: &'a Manifest,
    pub index: &'a Index,
    pub arch: &'a str,
    /// In KiB, as dpkg counts it.
    pub installed_size: u64,
    /// The package file's sha256, named in the description.
    pub sha256: &'a str,
}

impl Control<'_> {
    /// The text of `control`.
    pub(crate) fn render(&self) -> String {
        let package = &self.manifest.package;
        let mut out = String::new();
        let _ = writeln!(out, "Package: {}", self.layout.package);
        let _ = writeln!(out, "Version: {}", self.layout.version);
        let _ = writeln!(out, "Architecture: {}", self.arch);
        let _ = writeln!(
            out,
            "Maintainer: {}",
            maintainer(package.maintainer.as_deref())
        );
        let _ = writeln!(out, "Installed-Size: {}", self.installed_size);
        let depends = depends(self.manifest, self.index);
        if !depends.is_empty() {
            let _ = writeln!(out, "Depends: {}", depends.join(", "));
        }
        out.push_str("Section: misc\nPriority: optional\n");
        if let Some(home) = package.homepage.as_deref().filter(|h| is_url(h)) {
            let _ = writeln!(out, "Homepage: {home}");
        }
        let synopsis = package
            .description
            .as_deref()
            .map(one_line)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{} packaged by bale", self.layout.coordinate));
        let synopsis: String = synopsis.chars().take(80).collect();
        let _ = writeln!(out, "Description: {}", synopsis.trim_end());
        let _ = writeln!(out, " The bale package {},", self.layout.coordinate);
        out.push_str(" exported as a Debian package.\n");
        let _ = writeln!(out, " It installs under {}.", self.layout.prefix);
        out.push_str(" .\n");
        let _ = writeln!(out, " Package sha256: {}", self.sha256);
        if let Some(commit) = self.index.source.commit.as_deref() {
            let _ = writeln!(out, " Source commit: {}", one_line(commit));
        }
        out
    }
}

/// `Name <address>` from the manifest, or [`DEFAULT_MAINTAINER`].
fn maintainer(given: Option<&str>) -> String {
    match given.map(one_line) {
        Some(m) if is_name_and_address(&m) => m,
        _ => DEFAULT_MAINTAINER.to_owned(),
    }
}

/// `Name <local@domain>`, as Debian's `Maintainer` field wants.
fn is_name_and_address(text: &str) -> bool {
    let Some((name, rest)) = text.split_once('<') else {
        return false;
    };
    let Some(address) = rest.strip_suffix('>') else {
        return false;
    };
    !name.trim().is_empty()
        && !name.contains(',')
        && matches!(address.split_once('@'), Some((l, d)) if !l.is_empty() && d.contains('.'))
        && !address.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
}

fn is_url(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && !text.contains(|c: char| c.is_whitespace() || c.is_control())
}

/// A control field value on one line: control characters as spaces (a
/// line break would start a field of the manifest's choosing).
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// `Depends`: the detected packages at least at the version the build saw,
/// `[dependencies] runtime`, the kind's runtime packages, and `passwd`
/// (its `useradd` makes the package's user), by name.
pub(crate) fn depends(manifest: &Manifest, index: &Index) -> Vec<String> {
    let mut relations: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut add = |spec: &str| {
        let (name, version) = match spec.split_once('=') {
            Some((name, version)) => (name, Some(version.to_owned())),
            None => (spec, None),
        };
        // The package's own architecture is implied; Depends takes no `:arch`.
        let name = name.split(':').next().unwrap_or(name).to_owned();
        let slot = relations.entry(name).or_default();
        if version.is_some() {
            *slot = version;
        }
    };
    for spec in &index.dependencies.detected {
        add(spec);
    }
    for name in &index.dependencies.runtime {
        add(name);
    }
    for name in &manifest.dependencies.runtime {
        add(name);
    }
    if let Some(kind) = manifest
        .kind()
        .and_then(|k| Kinds::builtin().get(k).cloned())
    {
        for name in &kind.runtime {
            add(name);
        }
    }
    add("passwd");
    relations
        .into_iter()
        .map(|(name, version)| match version {
            Some(v) => format!("{name} (>= {v})"),
            None => name,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maintainer_without_an_address_is_replaced() {
        assert_eq!(maintainer(Some("Jane")), DEFAULT_MAINTAINER);
        assert_eq!(
            maintainer(Some("Jane Doe <jane@example.org>")),
            "Jane Doe <jane@example.org>"
        );
        assert_eq!(maintainer(None), DEFAULT_MAINTAINER);
    }

    #[test]
    fn a_line_break_cannot_start_a_field() {
        assert_eq!(one_line("a\nDepends: evil"), "a Depends: evil");
    }
}
