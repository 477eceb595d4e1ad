//! Following a service's log as it grows, across rotations (`bale logs -f`).
//!
//! The follower keeps the file it read open. When the log's path names
//! another file (the pump rotated it), the old file is read to its end first,
//! as it is final once renamed, then the new one from its start.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A log being followed.
#[derive(Debug)]
pub struct LogFollower {
    path: PathBuf,
    file: Option<File>,
    /// What was read after the last line break.
    partial: Vec<u8>,
}

impl LogFollower {
    /// Starts following the log at `path`; returns what it holds now too.
    pub fn start(path: &Path) -> (LogFollower, Vec<u8>) {
        let mut follower = LogFollower {
            path: path.to_owned(),
            file: None,
            partial: Vec::new(),
        };
        let mut text = Vec::new();
        if let Ok(mut file) = File::open(path) {
            let _ = file.read_to_end(&mut text);
            follower.file = Some(file);
        }
        // A last line without its line break is finished by what follows.
        if let Some(end) = text.iter().rposition(|b| *b == b'\n') {
            follower.partial = text.split_off(end + 1);
        } else {
            follower.partial = std::mem::take(&mut text);
        }
        (follower, text)
    }

    /// The complete lines written since the last call.
    pub fn new_lines(&mut self) -> io::Result<Vec<String>> {
        // Looked at before reading: once the path names a new file, the old one is final.
        let now = fs::metadata(&self.path).ok();
        if let Some(file) = &mut self.file {
            let before = file.stream_position()?;
            if file.metadata()?.len() < before {
                // Truncated in place: start over from its beginning.
                file.seek(SeekFrom::Start(0))?;
            }
            file.read_to_end(&mut self.partial)?;
        }
        let same = match (&self.file, &now) {
            (Some(file), Some(now)) => {
                let open = file.metadata()?;
                open.ino() == now.ino() && open.dev() == now.dev()
            }
            (None, None) => true,
            _ => false,
        };
        if !same {
            self.file = File::open(&self.path).ok();
            if let Some(file) = &mut self.file {
                file.read_to_end(&mut self.partial)?;
            }
        }
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Ok(Vec::new());
        };
        let rest = self.partial.split_off(end + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        Ok(String::from_utf8_lossy(&complete[..end])
            .lines()
            .map(str::to_owned)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::log::{LogRotation, RotatingLog};
    use super::*;

    #[test]
    fn a_line_is_shown_once_it_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.log");
        fs::write(&path, b"before\nhal").unwrap();
        let (mut follower, existing) = LogFollower::start(&path);
        assert_eq!(existing, b"before\n");
        let mut log = fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut log, b"f a line").unwrap();
        assert!(follower.new_lines().unwrap().is_empty());
        std::io::Write::write_all(&mut log, b"\nnext\n").unwrap();
        assert_eq!(follower.new_lines().unwrap(), ["half a line", "next"]);
    }

    #[test]
    fn a_rotation_between_reads_loses_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.log");
        let rotation = LogRotation {
            max_bytes: 1024,
            keep: 2,
        };
        let mut log = RotatingLog::open(&path, rotation).unwrap();
        let (mut follower, _) = LogFollower::start(&path);
        let mut seen = Vec::new();
        for i in 0..400 {
            log.write_all(format!("line {i:04}\n").as_bytes()).unwrap();
            // 10 bytes a line: a read every 50 lines sees at most one rotation.
            if i % 50 == 49 {
                seen.extend(follower.new_lines().unwrap());
            }
        }
        let expected: Vec<String> = (0..400).map(|i| format!("line {i:04}")).collect();
        assert_eq!(seen, expected);
    }
}
