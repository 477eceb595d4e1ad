//! A file writer that starts writing its pages to disk as it goes, so the
//! `fsync` that makes a package durable has little left to wait for.

use std::io::{self, Write};
use std::os::fd::AsRawFd;

/// Bytes written between two requests to start writeback.
const WINDOW: u64 = 8 << 20;

/// Wraps a file being written front to back: after every 8 MiB it asks the
/// kernel to start writing that range out (`sync_file_range`), and waits
/// for the range before it, so dirty pages stay bounded and a final
/// `sync_all` is short. Failures of these hints are ignored: the final
/// `sync_all` still reports any write error.
#[derive(Debug)]
pub struct WriteBehind<F> {
    file: F,
    /// Bytes written so far.
    written: u64,
    /// Start of the range whose writeback has not been requested yet.
    pending: u64,
}

impl<F: Write + AsRawFd> WriteBehind<F> {
    /// Wraps `file`, positioned at its start.
    pub fn new(file: F) -> WriteBehind<F> {
        WriteBehind {
            file,
            written: 0,
            pending: 0,
        }
    }

    /// The wrapped file (not yet synced).
    pub fn into_inner(self) -> F {
        self.file
    }

    fn start_writeback(&mut self) {
        let fd = self.file.as_raw_fd();
        let (start, len) = (self.pending, self.written - self.pending);
        // SAFETY: plain syscalls on a file descriptor `self.file` owns.
        unsafe {
            libc::sync_file_range(fd, start as i64, len as i64, libc::SYNC_FILE_RANGE_WRITE);
            if start >= WINDOW {
                let before = start - WINDOW;
                libc::sync_file_range(
                    fd,
                    before as i64,
                    WINDOW as i64,
                    libc::SYNC_FILE_RANGE_WAIT_BEFORE
                        | libc::SYNC_FILE_RANGE_WRITE
                        | libc::SYNC_FILE_RANGE_WAIT_AFTER,
                );
            }
        }
        self.pending = self.written;
    }
}

impl<F: Write + AsRawFd> Write for WriteBehind<F> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.pending >= WINDOW {
            self.start_writeback();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
