//! Where an exported package's files go on a Debian system.

use bale_coordinate::Coordinate;

/// The paths and names of one export.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The Debian package name.
    pub package: String,
    /// The Debian version.
    pub version: String,
    /// The bale coordinate, `group:name:version`.
    pub coordinate: String,
    /// The package root: `/opt/bale/<group as path>/<name>/<version>`, its `BALE_PREFIX`.
    pub prefix: String,
    /// The prefix the package was built at (`/bale/pkgs/…`), which its
    /// programs may have recorded (a run path, a configuration directory).
    pub build_prefix: String,
    /// Where the package's `etc/` lives, under `/etc/opt` as the FHS asks for
    /// `/opt` packages; unversioned, so edits carry over an upgrade.
    pub etc: String,
    /// The runtime directory, `BALE_RUN`: `/var/lib/<package>`.
    pub run: String,
    /// The generated service scripts: `/usr/libexec/<package>`.
    pub libexec: String,
    /// `/usr/share/doc/<package>`.
    pub doc: String,
    /// The variables file: `/etc/default/<package>`.
    pub defaults: String,
    /// The system user services and hooks run as.
    pub user: String,
}

impl Layout {
    /// The layout of `coordinate` exported as Debian package `package`, version `version`.
    pub(crate) fn new(coordinate: &Coordinate, package: String, version: String) -> Layout {
        let group = coordinate.group_path();
        let name = coordinate.name();
        Layout {
            prefix: format!("/opt/bale/{}", coordinate.relative_dir()),
            build_prefix: coordinate.prefix(),
            etc: format!("/etc/opt/bale/{group}/{name}"),
            run: format!("/var/lib/{package}"),
            libexec: format!("/usr/libexec/{package}"),
            doc: format!("/usr/share/doc/{package}"),
            defaults: format!("/etc/default/{package}"),
            user: super::names::user_name(&package),
            coordinate: coordinate.to_string(),
            package,
            version,
        }
    }

    /// The systemd unit of `service`: `<package>-<service>.service`.
    pub(crate) fn unit(&self, service: &str) -> String {
        format!("{}-{service}.service", self.package)
    }
}
