//! Durations (`"1h30m"`) and sizes (`"4G"`) as written in bale.toml.
//!
//! Each keeps the text it was read from so that a manifest renders back
//! exactly as written.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ManifestError;

/// A duration with the text it was written as, e.g. `"1h30m"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HumanDuration {
    text: String,
    value: Duration,
}

/// A byte count with the text it was written as, e.g. `"4G"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ByteSize {
    text: String,
    bytes: u64,
}

impl HumanDuration {
    /// Reads `90s`, `30m`, `1h`, `1h30m`, `2d`, `500ms`: numbers each followed by a unit.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let fail = |reason: &str| ManifestError::Duration {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(fail("it is empty"));
        }
        let mut total = Duration::ZERO;
        let mut seen: Vec<&str> = Vec::new();
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(fail("expected a number"));
            }
            let number: u64 = rest[..digits]
                .parse()
                .map_err(|_| fail("the number is too large"))?;
            rest = &rest[digits..];
            let letters = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let unit = &rest[..letters];
            rest = &rest[letters..];
            let scale = match unit {
                "ms" => Duration::from_millis(1),
                "s" => Duration::from_secs(1),
                "m" => Duration::from_secs(60),
                "h" => Duration::from_secs(3600),
                "d" => Duration::from_secs(86_400),
                "" => return Err(fail("a number has no unit (s, m, h, d or ms)")),
                _ => {
                    return Err(fail(&format!(
                        "`{unit}` is not a unit (use ms, s, m, h or d)"
                    )))
                }
            };
            if seen.contains(&unit) {
                return Err(fail(&format!("the unit `{unit}` appears twice")));
            }
            seen.push(unit);
            let part = u32::try_from(number)
                .ok()
                .and_then(|n| scale.checked_mul(n))
                .ok_or_else(|| fail("the number is too large"))?;
            total = total
                .checked_add(part)
                .ok_or_else(|| fail("the number is too large"))?;
        }
        if total.is_zero() {
            return Err(fail("it must be more than zero"));
        }
        Ok(Self {
            text: text.to_owned(),
            value: total,
        })
    }

    /// The duration.
    pub fn as_duration(&self) -> Duration {
        self.value
    }

    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl ByteSize {
    /// Reads `1024`, `100K`, `512M`, `4G`, `1T` (binary multiples; `KiB`, `MB`, ... also read).
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let fail = |reason: &str| ManifestError::Size {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = text.trim();
        let digits = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        if digits == 0 {
            return Err(fail(if trimmed.is_empty() {
                "it is empty"
            } else {
                "expected a number first"
            }));
        }
        let number: u64 = trimmed[..digits]
            .parse()
            .map_err(|_| fail("the number is too large"))?;
        let unit = trimmed[digits..].trim_start();
        let power = match unit.to_ascii_uppercase().as_str() {
            "" | "B" => 0,
            "K" | "KB" | "KIB" => 1,
            "M" | "MB" | "MIB" => 2,
            "G" | "GB" | "GIB" => 3,
            "T" | "TB" | "TIB" => 4,
            _ => return Err(fail(&format!("`{unit}` is not a unit (use K, M, G or T)"))),
        };
        let bytes = 1024u64
            .checked_pow(power)
            .and_then(|scale| number.checked_mul(scale))
            .ok_or_else(|| fail("the number is too large"))?;
        if bytes == 0 {
            return Err(fail("it must be more than zero"));
        }
        Ok(Self {
            text: text.to_owned(),
            bytes,
        })
    }

    /// The size in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The text as written.
    pub fn text(&self) -> &str {
        &self.text
    }
}

macro_rules! text_conversions {
    ($ty:ty) => {
        impl FromStr for $ty {
            type Err = ManifestError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $ty {
            type Error = ManifestError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }
        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.text
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.text)
            }
        }
    };
}

text_conversions!(HumanDuration);
text_conversions!(ByteSize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_each_unit_and_combinations() {
        let cases = [
            ("90s", 90),
            ("30m", 1800),
            ("1h", 3600),
            ("1h30m", 5400),
            ("2d", 172_800),
            ("1m30s", 90),
        ];
        for (text, secs) in cases {
            assert_eq!(
                HumanDuration::parse(text).unwrap().as_duration(),
                Duration::from_secs(secs),
                "{text}"
            );
        }
        assert_eq!(
            HumanDuration::parse("500ms").unwrap().as_duration(),
            Duration::from_millis(500)
        );
    }

    #[test]
    fn durations_without_units_or_with_bad_units_are_refused() {
        for bad in [
            "",
            "30",
            "1x",
            "h",
            "0s",
            "1h1h",
            "-1s",
            "1.5h",
            "99999999999h",
        ] {
            assert!(
                HumanDuration::parse(bad).is_err(),
                "{bad} should be refused"
            );
        }
    }

    #[test]
    fn sizes_read_binary_multiples() {
        let cases = [
            ("1024", 1024),
            ("100K", 102_400),
            ("512M", 512 << 20),
            ("4G", 4 << 30),
            ("2GiB", 2 << 30),
            ("1t", 1 << 40),
        ];
        for (text, bytes) in cases {
            assert_eq!(ByteSize::parse(text).unwrap().bytes(), bytes, "{text}");
        }
    }

    #[test]
    fn sizes_with_bad_units_are_refused() {
        for bad in ["", "G", "4X", "0", "1.5G", "99999999999T"] {
            assert!(ByteSize::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn the_written_text_is_kept() {
        assert_eq!(HumanDuration::parse("1h30m").unwrap().to_string(), "1h30m");
        assert_eq!(ByteSize::parse("4G").unwrap().to_string(), "4G");
    }
}
