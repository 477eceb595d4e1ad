//! systemd units that run `bale supervise` and `bale serve` at boot, so a
//! machine's apps come back after a reboot (docs/runtime.md, "Running bale
//! under systemd"). The units are the files under `packaging/systemd/`, with
//! the bale binary and `$BALE_HOME` filled in.

use std::path::{Path, PathBuf};

use crate::DeployError;

/// One unit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// Its file name, e.g. `bale-supervise.service`.
    pub name: &'static str,
    /// Its text.
    pub text: String,
}

/// Where systemd reads the units an administrator installs.
pub const DEFAULT_UNIT_DIR: &str = "/etc/systemd/system";

const TEMPLATES: [(&str, &str); 2] = [
    (
        "bale-supervise.service",
        include_str!("../../../packaging/systemd/bale-supervise.service"),
    ),
    (
        "bale-serve.service",
        include_str!("../../../packaging/systemd/bale-serve.service"),
    ),
];

/// The units for the bale binary at `bale` with its state in `home`.
pub fn units(bale: &Path, home: &Path) -> Result<Vec<Unit>, DeployError> {
    let bale = unit_path(bale, "the bale binary")?;
    let home = unit_path(home, "BALE_HOME")?;
    Ok(TEMPLATES
        .iter()
        .map(|(name, template)| Unit {
            name,
            text: template
                .replace("@BALE@", &bale)
                .replace("@BALE_HOME@", &home),
        })
        .collect())
}

/// Writes `units` into `dir`, each whole or not at all; returns their paths.
pub fn install_units(units: &[Unit], dir: &Path) -> Result<Vec<PathBuf>, DeployError> {
    std::fs::create_dir_all(dir).map_err(|e| DeployError::io(dir, e))?;
    let mut written = Vec::new();
    for unit in units {
        let path = dir.join(unit.name);
        bale_fs::write_atomic(&path, unit.text.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}

/// `path` as a unit file can hold it: absolute, and free of what systemd
/// would read as quoting, a specifier (`%`) or a variable (`$`).
fn unit_path(path: &Path, what: &str) -> Result<String, DeployError> {
    let refuse = |why: &str| {
        DeployError::Config {
        path: path.to_owned(),
        message: format!("{what} {why}, which a systemd unit cannot name safely; move it to a plain absolute path"),
    }
    };
    let text = path.to_str().ok_or_else(|| refuse("is not UTF-8"))?;
    if !path.is_absolute() {
        return Err(refuse("is not an absolute path"));
    }
    if text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "%$\\\"';".contains(c))
    {
        return Err(refuse("holds a space, a quote, `%`, `$`, `\\` or `;`"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_units_run_this_bale_with_this_home() {
        let units = units(Path::new("/usr/local/bin/bale"), Path::new("/srv/bale")).unwrap();
        let names: Vec<&str> = units.iter().map(|u| u.name).collect();
        assert_eq!(names, ["bale-supervise.service", "bale-serve.service"]);
        assert!(units[0]
            .text
            .contains("\nExecStart=/usr/local/bin/bale supervise\n"));
        assert!(units[0]
            .text
            .contains("\nEnvironment=BALE_HOME=/srv/bale\n"));
        assert!(units[0].text.contains("\nKillMode=process\n"));
        assert!(units[1]
            .text
            .contains("\nExecStart=/usr/local/bin/bale serve --no-supervise\n"));
        assert!(!units.iter().any(|u| u.text.contains('@')));
    }

    #[test]
    fn a_path_systemd_would_misread_is_refused() {
        for home in ["/srv/my bale", "/srv/%h", "/srv/$HOME", "relative"] {
            let error = units(Path::new("/usr/bin/bale"), Path::new(home)).unwrap_err();
            assert!(error.to_string().contains("BALE_HOME"), "{home}: {error}");
        }
    }
}
