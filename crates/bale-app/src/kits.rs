//! An app's variables: what the deployer gave, what bale provisioned, the
//! kits' defaults, and the `env` file that keeps the first two across deploys.
//!
//! The `env` file holds one `NAME='value'` line per kept variable (POSIX sh
//! quoting, so a shell can source it), mode 0600, replaced atomically.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use bale_manifest::{Manifest, Provision};

use crate::runner::{port_variable, Ports};
use crate::DeployError;

/// The variables of one deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variables {
    /// Every variable the app runs with.
    pub values: BTreeMap<String, String>,
    /// What the `env` file keeps: given and provisioned values (defaults are not kept).
    pub kept: BTreeMap<String, String>,
}

/// Resolves the variables of `manifest` for `app`: a value given now wins, then
/// one kept from earlier deploys, then a provisioned one (generated once), then
/// the kit's default. Every required variable without a value is named at once.
pub fn resolve(
    app: &str,
    manifest: &Manifest,
    given: &BTreeMap<String, String>,
    kept: &BTreeMap<String, String>,
) -> Result<Variables, DeployError> {
    let mut kept = kept.clone();
    kept.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut values = kept.clone();
    let mut missing = Vec::new();
    for (name, variable) in manifest.variables() {
        if values.contains_key(name) {
            continue;
        }
        if let Some(Provision::Secret) = variable.provision {
            let secret = secret()?;
            kept.insert(name.to_owned(), secret.clone());
            values.insert(name.to_owned(), secret);
        } else if let Some(default) = &variable.default {
            values.insert(name.to_owned(), default.clone());
        } else if variable.required {
            missing.push(match &variable.description {
                Some(description) => format!("{name} ({description})"),
                None => name.to_owned(),
            });
        }
    }
    if !missing.is_empty() {
        return Err(DeployError::MissingVariables {
            app: app.to_owned(),
            names: missing,
        });
    }
    Ok(Variables { values, kept })
}

/// The ports an app's processes see: the main kit's first port (`PORT` of
/// hooks and commands; a `PORT` among `variables` wins, as it does for the
/// services) and every named port of every kit as `PORT_<NAME>`.
pub fn ports(manifest: &Manifest, variables: &BTreeMap<String, String>) -> Ports {
    let main = variables
        .get("PORT")
        .and_then(|p| p.parse::<u16>().ok())
        .or_else(|| {
            manifest
                .main_kit()
                .and_then(|(_, kit)| kit.first_port())
                .map(|p| p.port)
        });
    let named = manifest
        .kits
        .values()
        .flat_map(|kit| &kit.ports)
        .map(|p| (port_variable(&p.name), p.port))
        .collect();
    Ports { main, named }
}

/// A fresh random secret: 32 bytes as 64 hex digits.
fn secret() -> Result<String, DeployError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DeployError::Spawn {
        what: "the system's random number generator".into(),
        source: io::Error::other(e.to_string()),
    })?;
    Ok(hex::encode(bytes))
}

/// Reads an `env` file; a missing file is empty.
pub fn read_env(path: &Path) -> Result<BTreeMap<String, String>, DeployError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(DeployError::io(path, e)),
    };
    let mut out = BTreeMap::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let Some(eq) = rest[..line_end].find('=') else {
            rest = rest.get(line_end + 1..).unwrap_or("");
            continue;
        };
        let name = rest[..eq].trim().to_owned();
        let (value, after) = unquote(&rest[eq + 1..]);
        out.insert(name, value);
        rest = after.strip_prefix('\n').unwrap_or(after);
    }
    Ok(out)
}

/// Reads one sh-quoted value (`'…'` pieces joined by `\'`), returning it and the rest.
fn unquote(text: &str) -> (String, &str) {
    let mut value = String::new();
    let mut rest = text;
    loop {
        if let Some(after) = rest.strip_prefix('\'') {
            let end = after.find('\'').unwrap_or(after.len());
            value.push_str(&after[..end]);
            rest = after.get(end + 1..).unwrap_or("");
        } else if let Some(after) = rest.strip_prefix("\\'") {
            value.push('\'');
            rest = after;
        } else {
            // An unquoted value runs to the end of the line.
            let end = rest.find('\n').unwrap_or(rest.len());
            value.push_str(&rest[..end]);
            return (value, &rest[end..]);
        }
        if rest.is_empty() || rest.starts_with('\n') {
            return (value, rest);
        }
    }
}

/// Replaces the `env` file with `vars`, atomically and readable by the owner only.
pub fn write_env(path: &Path, vars: &BTreeMap<String, String>) -> Result<(), DeployError> {
    let mut text = String::new();
    for (name, value) in vars {
        text.push_str(name);
        text.push('=');
        text.push('\'');
        text.push_str(&value.replace('\'', "'\\''"));
        text.push_str("'\n");
    }
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| DeployError::io(parent, e))?;
    Ok(bale_fs::AtomicWrite::new()
        .mode(0o600)
        .write(path, text.as_bytes())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(variables: &str) -> Manifest {
        let text = format!(
            "[package]\ngroup = \"org.example\"\nname = \"web\"\nversion = \"1.0.0\"\n\n[stack]\nname = \"host\"\n\n\
             [run.services]\nweb = \"true\"\n\n[kits.web]\nports = [{{ name = \"http\", port = 8080 }}]\n[kits.web.variables]\n{variables}"
        );
        Manifest::parse(
            "bale.toml",
            &text,
            &bale_manifest::Catalog::default(),
            &bale_manifest::ParseOptions::default(),
        )
        .unwrap_or_else(|d| panic!("{d}"))
    }

    #[test]
    fn every_missing_required_variable_is_named_at_once() {
        let m = manifest("A = { required = true }\nB = { required = true, description = \"the b\" }\nC = { default = \"c\" }\n");
        let error = resolve("web", &m, &BTreeMap::new(), &BTreeMap::new()).unwrap_err();
        let DeployError::MissingVariables { names, .. } = &error else {
            panic!("{error}")
        };
        assert_eq!(names, &["A", "B (the b)"]);
    }

    #[test]
    fn a_secret_is_generated_once_kept_and_a_given_value_wins_over_a_default() {
        let m = manifest("S = { provision = \"secret\" }\nC = { default = \"c\" }\n");
        let first = resolve("web", &m, &BTreeMap::new(), &BTreeMap::new()).unwrap();
        assert_eq!(first.values["C"], "c");
        assert!(!first.kept.contains_key("C"));
        let mut given = BTreeMap::new();
        given.insert("C".to_owned(), "given".to_owned());
        let second = resolve("web", &m, &given, &first.kept).unwrap();
        assert_eq!(second.values["S"], first.values["S"], "the secret changed");
        assert_eq!(second.values["C"], "given");
    }

    #[test]
    fn env_files_round_trip_quotes_and_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env");
        let mut vars = BTreeMap::new();
        vars.insert("A".to_owned(), "it's \"quoted\"".to_owned());
        vars.insert("B".to_owned(), "two\nlines".to_owned());
        vars.insert("C".to_owned(), String::new());
        write_env(&path, &vars).unwrap();
        assert_eq!(read_env(&path).unwrap(), vars);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
