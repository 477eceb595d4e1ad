//! The class of a file from its path and its first bytes.

use crate::{elf, FileClass};

/// Magic at the start of an `ar` archive (a static library).
const AR_MAGIC: &[u8] = b"!<arch>\n";

/// Tells what a file is from its path inside the package and its first bytes.
///
/// Anything under `etc/` is `Config`, whatever its content. For an ELF file
/// pass the whole file: telling a position-independent executable from a
/// shared library needs its dynamic section. Given only the start of an ELF
/// file, the class is decided from the ELF header and program headers alone
/// (ET_EXEC, or ET_DYN with an interpreter, is an executable; any other
/// ET_DYN a shared library), which misreads a static-pie executable.
pub fn classify(rel_path: &str, head: &[u8]) -> FileClass {
    if is_config_path(rel_path) {
        FileClass::Config
    } else if elf::has_magic(head) {
        elf::class_of(head)
    } else if head.starts_with(AR_MAGIC) {
        FileClass::StaticLibrary
    } else if head.starts_with(b"#!") {
        FileClass::Script
    } else {
        FileClass::Data
    }
}

/// Whether a package-relative path lies under `etc/`.
fn is_config_path(rel_path: &str) -> bool {
    let path = rel_path.trim_start_matches("./").trim_start_matches('/');
    path.starts_with("etc/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_etc_are_config_whatever_they_hold() {
        assert_eq!(classify("etc/app.conf", b"key = 1\n"), FileClass::Config);
        assert_eq!(classify("./etc/run.sh", b"#!/bin/sh\n"), FileClass::Config);
        assert_eq!(classify("etc/nested/x.a", b"!<arch>\n"), FileClass::Config);
    }

    #[test]
    fn a_name_that_only_starts_with_etc_is_not_config() {
        assert_eq!(classify("etcetera/notes.txt", b"hello"), FileClass::Data);
        assert_eq!(classify("app/etc", b"hello"), FileClass::Data);
    }

    #[test]
    fn shebang_is_script_and_ar_magic_is_static_library() {
        assert_eq!(
            classify("bin/run", b"#!/bin/sh\necho hi\n"),
            FileClass::Script
        );
        assert_eq!(
            classify("lib/libx.a", b"!<arch>\nfoo.o/"),
            FileClass::StaticLibrary
        );
    }

    #[test]
    fn short_or_empty_heads_are_data() {
        assert_eq!(classify("share/empty", b""), FileClass::Data);
        assert_eq!(classify("share/one", b"#"), FileClass::Data);
        assert_eq!(classify("share/elfish", b"\x7fEL"), FileClass::Data);
    }
}
