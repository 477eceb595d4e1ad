//! A service's log, rotated by size: `web.log` holds the newest output,
//! `web.log.1` … `web.log.N` the older, `.N` the oldest. A file is never
//! written past the limit: output is cut at its last line break that fits
//! (mid-line only when one line alone is longer than the limit).
//!
//! The limits come from `[logs]` in the machine's `config.toml`
//! (docs/runtime.md, "Logs").

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::DeployError;

/// The default size at which a log rotates: 10 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 10 << 20;
/// The default number of rotated files kept beside the live one.
pub const DEFAULT_KEEP: u32 = 5;
/// The most rotated files a machine may keep (each is a rename on every rotation).
const MAX_KEEP: u32 = 100;
/// The smallest size a log may rotate at, so a rotation is not a write.
const MIN_MAX_BYTES: u64 = 1024;

/// When a service's log rotates and how many old files stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRotation {
    /// The most bytes one file holds.
    pub max_bytes: u64,
    /// How many rotated files (`.1` … `.keep`) are kept.
    pub keep: u32,
}

impl Default for LogRotation {
    fn default() -> Self {
        LogRotation {
            max_bytes: DEFAULT_MAX_BYTES,
            keep: DEFAULT_KEEP,
        }
    }
}

impl LogRotation {
    /// The rotation `[logs]` of the configuration file at `path` asks for; the
    /// default when the file or the table is absent.
    pub fn from_config(path: &Path) -> Result<LogRotation, DeployError> {
        let table = crate::config::read_table(path)?;
        let bad = |message: String| crate::config::invalid(path, message);
        let mut rotation = LogRotation::default();
        let Some(logs) = table.get("logs") else {
            return Ok(rotation);
        };
        let logs = logs
            .as_table()
            .ok_or_else(|| bad("`logs` is not a table; write `[logs]`".into()))?;
        for (key, value) in logs {
            match key.as_str() {
                "max-size" => {
                    rotation.max_bytes =
                        parse_size(value).map_err(|m| bad(format!("`logs.max-size`: {m}")))?;
                }
                "keep" => {
                    rotation.keep = value
                        .as_integer()
                        .and_then(|n| u32::try_from(n).ok())
                        .filter(|n| *n <= MAX_KEEP)
                        .ok_or_else(|| {
                            bad(format!(
                                "`logs.keep` is {value}; give a number of files from 0 to {MAX_KEEP}"
                            ))
                        })?;
                }
                other => {
                    return Err(bad(format!(
                        "unknown key `logs.{other}`; `[logs]` takes `max-size` and `keep`"
                    )))
                }
            }
        }
        Ok(rotation)
    }

    /// The `n`th rotated file of the log at `path` (`web.log.n`).
    pub fn rotated(path: &Path, n: u32) -> PathBuf {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }
}

/// A size: a number of bytes, or a string such as `"10MiB"`, `"512KiB"`, `"1GiB"`.
fn parse_size(value: &toml::Value) -> Result<u64, String> {
    let explain = || {
        format!(
            "{value} is not a size; write a number of bytes or e.g. \"10MiB\", \"512KiB\" \
             (at least {MIN_MAX_BYTES} bytes)"
        )
    };
    let bytes = match value {
        toml::Value::Integer(n) => u64::try_from(*n).map_err(|_| explain())?,
        toml::Value::String(text) => {
            let text = text.trim();
            let split = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            let (number, unit) = text.split_at(split);
            let number: u64 = number.parse().map_err(|_| explain())?;
            let scale: u64 = match unit.trim() {
                "" | "B" => 1,
                "K" | "KiB" => 1 << 10,
                "M" | "MiB" => 1 << 20,
                "G" | "GiB" => 1 << 30,
                _ => return Err(explain()),
            };
            number.checked_mul(scale).ok_or_else(explain)?
        }
        _ => return Err(explain()),
    };
    if bytes < MIN_MAX_BYTES {
        return Err(explain());
    }
    Ok(bytes)
}

/// A log file that rotates as it is written.
#[derive(Debug)]
pub struct RotatingLog {
    path: PathBuf,
    rotation: LogRotation,
    file: File,
    written: u64,
}

impl RotatingLog {
    /// Opens the log at `path` for appending, counting what it holds already.
    pub fn open(path: &Path, rotation: LogRotation) -> io::Result<RotatingLog> {
        let file = open_append(path)?;
        let written = file.metadata()?.len();
        Ok(RotatingLog {
            path: path.to_owned(),
            rotation,
            file,
            written,
        })
    }

    /// The open file, for a writer that will not rotate it.
    pub fn into_file(self) -> io::Result<File> {
        Ok(self.file)
    }

    /// Appends `bytes`, rotating first whenever they would take the file past its size.
    pub fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        let max = self.rotation.max_bytes.max(1);
        while !bytes.is_empty() {
            let room = usize::try_from(max.saturating_sub(self.written)).unwrap_or(usize::MAX);
            if bytes.len() <= room {
                self.append(bytes)?;
                return Ok(());
            }
            let fits = &bytes[..room];
            let cut = match fits.iter().rposition(|b| *b == b'\n') {
                Some(newline) => newline + 1,
                // A line longer than a whole file is cut where the file ends.
                None if self.written == 0 => room,
                None => 0,
            };
            self.append(&bytes[..cut])?;
            bytes = &bytes[cut..];
            self.rotate()?;
        }
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        // Counted even when the write fails (a full disk), so rotation still frees space.
        self.written += bytes.len() as u64;
        self.file.write_all(bytes)
    }

    /// `web.log.(N-1)` → `.N`, …, `web.log` → `.1`, and a new empty `web.log`.
    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.rotation.keep;
        if keep == 0 {
            remove_if_present(&self.path)?;
        } else {
            for n in (1..keep).rev() {
                rename_if_present(
                    &LogRotation::rotated(&self.path, n),
                    &LogRotation::rotated(&self.path, n + 1),
                )?;
            }
            rename_if_present(&self.path, &LogRotation::rotated(&self.path, 1))?;
        }
        // One left by a larger `keep` earlier would never be rotated away.
        remove_if_present(&LogRotation::rotated(&self.path, keep + 1))?;
        self.file = open_append(&self.path)?;
        self.written = self.file.metadata()?.len();
        Ok(())
    }
}

/// Opens a log for appending; a symlink planted in its place (the runtime
/// directory is the app's) is refused rather than followed.
fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotation(max_bytes: u64, keep: u32) -> LogRotation {
        LogRotation { max_bytes, keep }
    }

    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut found: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        found.sort();
        found
    }

    #[test]
    fn a_log_past_its_size_keeps_n_rotated_files_each_within_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.log");
        let mut log = RotatingLog::open(&path, rotation(1024, 3)).unwrap();
        for i in 0..1000 {
            log.write_all(format!("line {i:05}\n").as_bytes()).unwrap();
        }
        let found = files(dir.path());
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["web.log", "web.log.1", "web.log.2", "web.log.3"]);
        for (name, bytes) in &found {
            assert!(bytes.len() <= 1024, "{name} has {} bytes", bytes.len());
            assert!(bytes.ends_with(b"\n"), "{name} ends mid-line");
        }
        let live = String::from_utf8(found[0].1.clone()).unwrap();
        assert!(live.ends_with("line 00999\n"), "{live}");
        // The rotated files are older, in order, and nothing between them is lost.
        let joined: String = found
            .iter()
            .rev()
            .map(|(_, b)| String::from_utf8(b.clone()).unwrap())
            .collect();
        let numbers: Vec<u32> = joined
            .lines()
            .map(|l| l.trim_start_matches("line ").parse().unwrap())
            .collect();
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1));
        assert_eq!(numbers.last(), Some(&999));
    }

    #[test]
    fn a_line_longer_than_the_size_is_cut_at_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.log");
        let mut log = RotatingLog::open(&path, rotation(1024, 2)).unwrap();
        log.write_all(&[b'x'; 2500]).unwrap();
        let sizes: Vec<usize> = files(dir.path()).iter().map(|(_, b)| b.len()).collect();
        assert_eq!(sizes, [452, 1024, 1024]);
    }

    #[test]
    fn keeping_none_starts_the_log_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.log");
        let mut log = RotatingLog::open(&path, rotation(1024, 0)).unwrap();
        log.write_all(&[b'a'; 1020]).unwrap();
        log.write_all(b"\nnewest\n").unwrap();
        let found = files(dir.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, b"newest\n");
    }

    #[test]
    fn a_symlink_in_place_of_the_log_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        fs::write(&target, b"keep me\n").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("web.log")).unwrap();
        assert!(RotatingLog::open(&dir.path().join("web.log"), LogRotation::default()).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"keep me\n");
    }

    #[test]
    fn the_configuration_sets_size_and_count() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        assert_eq!(
            LogRotation::from_config(&config).unwrap(),
            LogRotation::default()
        );
        fs::write(
            &config,
            "isolation = \"none\"\n[logs]\nmax-size = \"2MiB\"\nkeep = 2\n",
        )
        .unwrap();
        assert_eq!(
            LogRotation::from_config(&config).unwrap(),
            rotation(2 << 20, 2)
        );
        fs::write(&config, "[logs]\nmax-size = 4096\n").unwrap();
        assert_eq!(
            LogRotation::from_config(&config).unwrap(),
            rotation(4096, DEFAULT_KEEP)
        );
    }

    #[test]
    fn a_bad_log_setting_is_named_with_what_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        for (text, expected) in [
            ("[logs]\nmax-size = \"10 parsecs\"\n", "logs.max-size"),
            ("[logs]\nmax-size = 10\n", "at least 1024 bytes"),
            ("[logs]\nkeep = -1\n", "logs.keep"),
            ("[logs]\nrotate = true\n", "unknown key `logs.rotate`"),
        ] {
            fs::write(&config, text).unwrap();
            let error = LogRotation::from_config(&config).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }
}
