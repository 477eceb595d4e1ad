//! Small package files kept in memory for serving, each checked against the
//! disk by one `stat` per request: a hit costs that `stat` instead of an
//! open, a stat, a read and a close.
//!
//! A file replaced (new inode), rewritten, resized or touched (mtime or
//! ctime) no longer matches its entry and is read again, so the cache never
//! serves bytes the disk no longer has under that name. Files changed in the
//! last seconds are not kept: file times are coarse, and a rewrite within
//! the same tick would otherwise leave the stamp unchanged.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

/// Bytes held at most (contents plus a per-entry allowance); past it the
/// cache starts over, which bounds memory without bookkeeping.
const BUDGET: u64 = 64 << 20;
/// What one entry costs besides its bytes (path, map slot).
const ENTRY_COST: u64 = 256;
/// How long a file must have been left alone before it is kept.
const SETTLED: Duration = Duration::from_secs(2);

/// Identity and version of a file as `stat` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// The cache: file path to its bytes as of a stamp.
#[derive(Default)]
pub(crate) struct InlineCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<PathBuf, (Stamp, Bytes)>,
    held: u64,
}

impl std::fmt::Debug for InlineCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (entries, held) = self
            .state
            .lock()
            .map(|s| (s.entries.len(), s.held))
            .unwrap_or((0, 0));
        f.debug_struct("InlineCache")
            .field("entries", &entries)
            .field("held", &held)
            .finish()
    }
}

impl InlineCache {
    /// The bytes of `path` when the cache holds them for the file `meta` describes.
    pub(crate) fn get(&self, path: &Path, meta: &Metadata) -> Option<Bytes> {
        let state = self.state.lock().ok()?;
        let (stamp, bytes) = state.entries.get(path)?;
        (*stamp == Stamp::of(meta)).then(|| bytes.clone())
    }

    /// Keeps `bytes`, read from `path` while it was the file `meta` describes.
    pub(crate) fn put(&self, path: &Path, meta: &Metadata, bytes: Bytes) {
        if !settled(meta) {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let cost = bytes.len() as u64 + ENTRY_COST;
        if cost > BUDGET {
            return;
        }
        if state.held + cost > BUDGET {
            state.entries.clear();
            state.held = 0;
        }
        if let Some((_, old)) = state
            .entries
            .insert(path.to_path_buf(), (Stamp::of(meta), bytes))
        {
            state.held -= old.len() as u64 + ENTRY_COST;
        }
        state.held += cost;
    }
}

/// Whether the file's contents last changed at least [`SETTLED`] ago: any
/// later write then gives it a newer mtime than its entry holds.
fn settled(meta: &Metadata) -> bool {
    let written = UNIX_EPOCH
        + Duration::new(
            meta.mtime().max(0) as u64,
            meta.mtime_nsec().clamp(0, 999_999_999) as u32,
        );
    SystemTime::now()
        .duration_since(written)
        .is_ok_and(|age| age >= SETTLED)
}
