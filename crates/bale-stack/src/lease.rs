//! Who uses a stack image. A build holds a shared lease on the image it
//! runs over for as long as it runs; sanitizing it (before a build, or
//! `bale stack sanitize`), re-creating it, removing it or evicting its
//! layers (`stop`) takes the lease exclusively, after the builds using it
//! have ended. So an image or a layer never changes under a running build,
//! and two builds that find the same image changed sanitize it once.
//!
//! The locks are files under `stacks/.locks/`, outside the image's
//! directory, which re-creating swaps whole; the kernel lets a lock go when
//! its holder dies, even by SIGKILL.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::path::PathBuf;

use rustix::fs::{flock, FlockOperation};

use crate::arch::image_dir_name;
use crate::stacks::Stacks;
use crate::StackError;

/// A hold on one stack image (one stack, one architecture); let go when dropped.
pub struct StackLease {
    _file: File,
    exclusive: bool,
}

impl fmt::Debug for StackLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.exclusive {
            "StackLease(exclusive)"
        } else {
            "StackLease(shared)"
        })
    }
}

impl Stacks {
    /// A shared lease on stack `name`'s image: held by a build while it
    /// runs. Waits while the image is being sanitized, re-created or removed.
    pub fn lease(&self, name: &str) -> Result<StackLease, StackError> {
        self.take(name, false, &mut |_| {})
    }

    /// The exclusive lease that changing stack `name`'s image or layers
    /// takes; says through `progress` when it waits for builds to end.
    pub(crate) fn lease_exclusive(
        &self,
        name: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<StackLease, StackError> {
        self.take(name, true, progress)
    }

    fn lock_path(&self, name: &str) -> PathBuf {
        self.dir()
            .join(".locks")
            .join(format!("{}.lock", image_dir_name(name, self.arch())))
    }

    fn take(
        &self,
        name: &str,
        exclusive: bool,
        progress: &mut dyn FnMut(&str),
    ) -> Result<StackLease, StackError> {
        let path = self.lock_path(name);
        let io = |source| StackError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let (now, wait) = if exclusive {
            (
                FlockOperation::NonBlockingLockExclusive,
                FlockOperation::LockExclusive,
            )
        } else {
            (
                FlockOperation::NonBlockingLockShared,
                FlockOperation::LockShared,
            )
        };
        match flock(&file, now) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                progress(&if exclusive {
                    format!("waiting for the builds using stack {name} to end")
                } else {
                    format!("waiting for stack {name} to be sanitized")
                });
                flock(&file, wait).map_err(|e| io(e.into()))?;
            }
            Err(e) => return Err(io(e.into())),
        }
        Ok(StackLease {
            _file: file,
            exclusive,
        })
    }
}
