//! Facts about a file on disk.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::{classify, elf, FileClass, FileFacts, InspectError};

/// How many bytes decide the class of a file that is not ELF (`!<arch>\n`).
const HEAD_LEN: u64 = 8;

/// Inspects a regular file: its class and, for ELF, how it links.
///
/// Only the first bytes are read unless the file is ELF, which is read whole
/// (the dynamic section can sit anywhere). A file under `etc/` is `Config`
/// but still gets ELF facts if it is an ELF file, so that dependency
/// detection sees every library the package needs.
///
/// A malformed ELF file (truncated, corrupt) is recorded as `Data` with no
/// facts rather than failing: recording facts must not stop a package
/// whose test fixtures or firmware blobs happen to start with `\x7fELF`.
/// Only a failure to read the file is an error.
pub fn inspect_file(path: &Path, rel_path: &str) -> Result<FileFacts, InspectError> {
    let read_error = |source| InspectError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let mut head = Vec::with_capacity(HEAD_LEN as usize);
    file.by_ref()
        .take(HEAD_LEN)
        .read_to_end(&mut head)
        .map_err(read_error)?;
    let class = classify(rel_path, &head);
    if !elf::has_magic(&head) {
        return Ok(FileFacts { class, elf: None });
    }
    let mut bytes = head;
    file.read_to_end(&mut bytes).map_err(read_error)?;
    match elf::inspect(&bytes) {
        Ok(Some((elf_class, facts))) => {
            let class = if class == FileClass::Config {
                class
            } else {
                elf_class
            };
            Ok(FileFacts {
                class,
                elf: Some(facts),
            })
        }
        Ok(None) => Ok(FileFacts {
            class: non_elf_class(class),
            elf: None,
        }),
        Err(InspectError::MalformedElf { .. }) => Ok(FileFacts {
            class: non_elf_class(class),
            elf: None,
        }),
        Err(error) => Err(error),
    }
}

/// The class of an ELF-looking file with no usable ELF facts.
fn non_elf_class(class: FileClass) -> FileClass {
    if class == FileClass::Config {
        class
    } else {
        FileClass::Data
    }
}
