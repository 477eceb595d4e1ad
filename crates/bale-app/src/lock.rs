//! The app lock: an exclusive `flock` on `apps/<app>/lock`, held while a
//! deploy, rollback, service change or uninstall runs. The holder writes its
//! pid and command line into the file, so a refused caller can say who has it.
//! The kernel drops the lock when the holder dies, even by SIGKILL.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::MetadataExt;

use rustix::fs::{flock, FlockOperation};

use crate::deployment::AppDirs;
use crate::DeployError;

/// Whether to wait for the lock or fail at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Block until the holder lets go.
    Yes,
    /// Fail with [`DeployError::Locked`] naming the holder.
    No,
}

/// A held app lock; dropping it lets go.
#[derive(Debug)]
pub struct AppLock {
    // Held for its lock; closing it unlocks.
    _file: File,
}

impl AppLock {
    /// Takes the lock of `app`, creating its directory if needed.
    pub fn acquire(app: &AppDirs, wait: Wait) -> Result<AppLock, DeployError> {
        let path = app.lock_file();
        fs::create_dir_all(app.root()).map_err(|e| DeployError::io(app.root(), e))?;
        loop {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| DeployError::io(&path, e))?;
            let operation = match wait {
                Wait::Yes => FlockOperation::LockExclusive,
                Wait::No => FlockOperation::NonBlockingLockExclusive,
            };
            match flock(&file, operation) {
                Ok(()) => {}
                Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = holder.trim();
                    return Err(DeployError::Locked {
                        app: app.name().to_owned(),
                        holder: if holder.is_empty() {
                            "unknown holder".to_owned()
                        } else {
                            holder.to_owned()
                        },
                    });
                }
                Err(e) => return Err(DeployError::io(&path, e.into())),
            }
            // An uninstall may have moved the app away while this process waited:
            // the lock is only good if the file is still the one at `path`.
            let same = match (file.metadata(), fs::metadata(&path)) {
                (Ok(held), Ok(now)) => held.ino() == now.ino() && held.dev() == now.dev(),
                _ => false,
            };
            if !same {
                fs::create_dir_all(app.root()).map_err(|e| DeployError::io(app.root(), e))?;
                continue;
            }
            write_holder(&mut file).map_err(|e| DeployError::io(&path, e))?;
            return Ok(AppLock { _file: file });
        }
    }
}

/// Writes `pid command line` into the lock file.
fn write_holder(file: &mut File) -> io::Result<()> {
    let command: Vec<String> = std::env::args().collect();
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "pid {}: {}", std::process::id(), command.join(" "))?;
    file.flush()
}
