//! File facts (class, ELF linkage) for the index, from `bale-inspect`.

use std::path::Path;

use bale_inspect::FileFacts;

use crate::ArchiveError;

/// The ELF magic: only such files need the whole file parsed.
const ELF_MAGIC: &[u8] = b"\x7fELF";

/// Facts about the regular file at `path` (`rel` inside the package), given
/// its first bytes (the whole file when shorter than a read buffer).
///
/// A file that is not ELF is classified from `head` without opening it
/// again, which is what [`bale_inspect::inspect_file`] does for it too.
pub(crate) fn file_facts(path: &Path, rel: &str, head: &[u8]) -> Result<FileFacts, ArchiveError> {
    if head.starts_with(ELF_MAGIC) {
        bale_inspect::inspect_file(path, rel).map_err(|source| ArchiveError::Inspect {
            path: rel.to_string(),
            source,
        })
    } else {
        Ok(FileFacts {
            class: bale_inspect::classify(rel, head),
            elf: None,
        })
    }
}
