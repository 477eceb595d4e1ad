//! The `.bale` archive: a deterministic writer ([`PackageTree`]), a safe,
//! bounded reader ([`read_index`], [`unpack`], [`verify`]) and `index.json`.

mod check;
mod disk;
mod error;
mod facts;
#[doc(hidden)]
pub mod fuzzing;
pub mod index;
mod json;
mod limits;
mod paths;
mod reader;
mod tar_header;
mod tar_stream;
mod tree;
pub mod ustar;
mod write_behind;
mod writer;

pub use error::ArchiveError;
pub use index::{Dependencies, EntryType, FileRecord, Index, SourceRef, StackRef, LEGACY_ARCH};
pub use limits::Limits;
pub use reader::{read_index, read_index_with, unpack, verify, UnpackOptions, Unpacked};
pub use tree::PackageTree;
pub use write_behind::WriteBehind;
pub use writer::{compress_with_workers, PackMeta, Written, ZSTD_LEVEL};
