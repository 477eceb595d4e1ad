//! Package identity: the `group:name:version` coordinate.
//!
//! One coordinate is one set of bytes, forever. The rules for each part live
//! here so that the manifest, the archive, the store and the repository agree.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[doc(hidden)]
pub mod fuzzing;

/// Why a coordinate or one of its parts is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoordinateError {
    /// The text does not have three `:`-separated parts.
    #[error(
        "`{0}` is not a coordinate: expected `group:name:version`, e.g. `org.example:hello:2.10`"
    )]
    Shape(String),
    /// The group is not a dotted lower-case name.
    #[error("`{0}` is not a valid group: use dotted lower-case words like `org.example` ([a-z0-9][a-z0-9_-]* separated by dots)")]
    Group(String),
    /// The name breaks `[a-z0-9][a-z0-9._-]*`.
    #[error("`{0}` is not a valid name: use lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit")]
    Name(String),
    /// The version does not start with a digit or holds forbidden characters.
    #[error("`{0}` is not a valid version: it must start with a digit and use only letters, digits, `.`, `+`, `~`, `_` and `-` (e.g. `1.0.0`, `2.10`, `1.2.3-rc1`)")]
    Version(String),
}

/// Checks a group: dotted words, each `[a-z0-9][a-z0-9_-]*`.
pub fn check_group(group: &str) -> Result<(), CoordinateError> {
    let ok = !group.is_empty()
        && group.len() <= 200
        && group.split('.').all(|word| {
            let mut chars = word.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
                && chars
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err(CoordinateError::Group(group.to_owned()))
    }
}

/// Checks a name: `[a-z0-9][a-z0-9._-]*`, and never `.` or `..`-like.
pub fn check_name(name: &str) -> Result<(), CoordinateError> {
    let mut chars = name.chars();
    let ok = name.len() <= 128
        && matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(CoordinateError::Name(name.to_owned()))
    }
}

/// Checks a version: starts with a digit; letters, digits, `.+~_-`; no `..`.
pub fn check_version(version: &str) -> Result<(), CoordinateError> {
    let mut chars = version.chars();
    let ok = version.len() <= 128
        && matches!(chars.next(), Some(c) if c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '_' | '-'))
        && !version.contains("..")
        && !version.ends_with('.');
    if ok {
        Ok(())
    } else {
        Err(CoordinateError::Version(version.to_owned()))
    }
}

/// A package's identity: `group:name:version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Coordinate {
    group: String,
    name: String,
    version: String,
}

impl Coordinate {
    /// Builds a coordinate from its parts, checking each.
    pub fn new(group: &str, name: &str, version: &str) -> Result<Self, CoordinateError> {
        check_group(group)?;
        check_name(name)?;
        check_version(version)?;
        Ok(Self {
            group: group.to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
        })
    }

    /// The dotted group, e.g. `org.example`.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The package name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The group as a relative path: `org.example` → `org/example`.
    pub fn group_path(&self) -> String {
        self.group.replace('.', "/")
    }

    /// The relative directory of this package: `org/example/hello/2.10`.
    pub fn relative_dir(&self) -> String {
        format!("{}/{}/{}", self.group_path(), self.name, self.version)
    }

    /// The archive's file name before architectures were named in it:
    /// `hello-2.10.bale` (read as the architecture in its index).
    pub fn file_name(&self) -> String {
        format!("{}-{}.bale", self.name, self.version)
    }

    /// The archive's file name for one architecture: `hello-2.10-amd64.bale`.
    pub fn arch_file_name(&self, arch: &str) -> String {
        format!("{}-{}-{arch}.bale", self.name, self.version)
    }

    /// The archive's path in a repository: `org/example/hello/2.10/hello-2.10.bale`.
    pub fn repository_path(&self) -> String {
        format!("{}/{}", self.relative_dir(), self.file_name())
    }

    /// Where the package lives at run time and during its build.
    pub fn prefix(&self) -> String {
        format!("/bale/pkgs/{}", self.relative_dir())
    }
}

impl fmt::Display for Coordinate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.group, self.name, self.version)
    }
}

impl FromStr for Coordinate {
    type Err = CoordinateError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(':');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(g), Some(n), Some(v), None) => Coordinate::new(g, n, v),
            _ => Err(CoordinateError::Shape(s.to_owned())),
        }
    }
}

impl TryFrom<String> for Coordinate {
    type Error = CoordinateError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Coordinate> for String {
    fn from(c: Coordinate) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coordinate_round_trips_through_text() {
        let c: Coordinate = "org.example:hello:2.10".parse().unwrap();
        assert_eq!(c.group(), "org.example");
        assert_eq!(c.to_string(), "org.example:hello:2.10");
        assert_eq!(
            c.repository_path(),
            "org/example/hello/2.10/hello-2.10.bale"
        );
        assert_eq!(c.prefix(), "/bale/pkgs/org/example/hello/2.10");
    }

    #[test]
    fn path_tricks_are_not_coordinates() {
        for bad in [
            "org..x:a:1",
            "org.example:..:1",
            "org.example:a:1/../2",
            "a:b",
            "a:b:1:2",
            "Org:a:1",
            "org:a:v1",
        ] {
            assert!(
                bad.parse::<Coordinate>().is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn versions_follow_the_rule() {
        for good in ["1", "2.10", "1.0.0-rc1", "1.2+deb1", "0~beta"] {
            assert!(check_version(good).is_ok(), "{good}");
        }
        for bad in ["", "v1", "1..2", "1.", "1 2", "1/2"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }
}
