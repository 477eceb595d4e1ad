//! Bounds on what reading an archive may cost.

/// How much an archive may expand to; past any of these, reading stops with
/// [`crate::ArchiveError::LimitExceeded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Decompressed bytes of the whole archive (headers included), counted as
    /// they come out of zstd, not only as declared.
    pub max_unpacked_bytes: u64,
    /// Entries in the archive.
    pub max_entries: u64,
    /// Bytes of `.bale/index.json`, and of `.bale/manifest.toml`.
    pub max_index_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_unpacked_bytes: 64 << 30,
            max_entries: 1_000_000,
            max_index_bytes: 64 << 20,
        }
    }
}
