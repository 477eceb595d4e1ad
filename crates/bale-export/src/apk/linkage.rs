//! Whether a package can run on Alpine, from the ELF facts in its index:
//! Alpine's C library is musl, so a file linked against glibc would not
//! start there. Static files and musl-linked ones can; what a musl-linked
//! file needs and the package does not ship becomes a `depend = so:…`.

use std::collections::BTreeSet;

use bale_archive::{FileRecord, Index};
use bale_inspect::Linkage;

use crate::ExportError;

/// Why a file is glibc-linked, or `None` when it is not.
fn glibc_reason(record: &FileRecord) -> Option<String> {
    let elf = record.elf.as_ref()?;
    if let Some(interp) = &elf.interp {
        let base = interp.rsplit('/').next().unwrap_or(interp);
        if base.starts_with("ld-linux") {
            return Some(format!("interpreter {interp}"));
        }
    }
    let glibc: Vec<&str> = elf
        .needed
        .iter()
        .map(String::as_str)
        .filter(|n| is_glibc_library(n))
        .collect();
    if glibc.is_empty() {
        None
    } else {
        Some(format!("needs {}", glibc.join(", ")))
    }
}

/// The sonames only glibc provides: its C library, loader and companions.
fn is_glibc_library(soname: &str) -> bool {
    soname == "libc.so.6"
        || soname.starts_with("ld-linux")
        || matches!(
            soname,
            "libm.so.6"
                | "libpthread.so.0"
                | "libdl.so.2"
                | "librt.so.1"
                | "libresolv.so.2"
                | "libutil.so.1"
                | "libcrypt.so.1"
                | "libanl.so.1"
        )
}

/// Whether `soname` is musl's C library, which every Alpine system has.
fn is_musl_libc(soname: &str) -> bool {
    soname == "libc.so" || (soname.starts_with("libc.musl-") && soname.ends_with(".so.1"))
}

/// Checks that no file of the package is glibc-linked, naming every one
/// that is, and returns the package's `depend` lines: `musl` when a file is
/// dynamically linked, and `so:<soname>` for each library a file needs that
/// the package does not ship itself.
pub(crate) fn alpine_depends(index: &Index) -> Result<Vec<String>, ExportError> {
    let glibc: Vec<String> = index
        .files
        .iter()
        .filter_map(|r| glibc_reason(r).map(|why| format!("  {} ({why})", r.path)))
        .collect();
    if !glibc.is_empty() {
        return Err(ExportError::Refused(format!(
            "an Alpine package runs on musl, and these files are linked against glibc:\n{}\n\
             build them statically (e.g. `-static`, or Rust's x86_64-unknown-linux-musl \
             target) or with musl-gcc, or export the package as a Debian package or an \
             OCI image instead",
            glibc.join("\n")
        )));
    }
    let shipped: BTreeSet<&str> = index
        .files
        .iter()
        .flat_map(|r| {
            let soname = r.elf.as_ref().and_then(|e| e.soname.as_deref());
            let base = r.path.rsplit('/').next();
            soname.into_iter().chain(base)
        })
        .collect();
    let mut depends = BTreeSet::new();
    for elf in index.files.iter().filter_map(|r| r.elf.as_ref()) {
        if elf.linkage == Linkage::Dynamic {
            depends.insert("musl".to_owned());
        }
        for needed in &elf.needed {
            if !is_musl_libc(needed) && !shipped.contains(needed.as_str()) {
                depends.insert(format!("so:{needed}"));
            }
        }
    }
    Ok(depends.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bale_archive::EntryType;
    use bale_inspect::ElfFacts;

    fn elf(path: &str, linkage: Linkage, interp: Option<&str>, needed: &[&str]) -> FileRecord {
        FileRecord {
            path: path.into(),
            entry_type: EntryType::File,
            mode: Some(0o755),
            size: Some(1),
            sha256: Some("0".repeat(64)),
            class: None,
            elf: Some(ElfFacts {
                linkage,
                interp: interp.map(str::to_owned),
                needed: needed.iter().map(|s| s.to_string()).collect(),
                soname: None,
                machine: None,
            }),
            target: None,
        }
    }

    fn index(files: Vec<FileRecord>) -> Index {
        Index {
            format: 1,
            coordinate: "org.example:hello:1.0".into(),
            arch: Some("amd64".into()),
            stack: Default::default(),
            dependencies: Default::default(),
            source: Default::default(),
            installed_size: files.len() as u64,
            files,
        }
    }

    #[test]
    fn static_files_need_nothing() {
        let deps = alpine_depends(&index(vec![
            elf("bin/a", Linkage::Static, None, &[]),
            elf("bin/b", Linkage::StaticPie, None, &[]),
        ]))
        .unwrap();
        assert!(deps.is_empty(), "{deps:?}");
    }

    #[test]
    fn a_musl_file_depends_on_musl_and_the_libraries_it_does_not_ship() {
        let deps = alpine_depends(&index(vec![
            elf(
                "bin/a",
                Linkage::Dynamic,
                Some("/lib/ld-musl-x86_64.so.1"),
                &["libc.musl-x86_64.so.1", "libz.so.1", "libfoo.so.1"],
            ),
            elf("lib/libfoo.so.1", Linkage::Dynamic, None, &["libc.so"]),
        ]))
        .unwrap();
        assert_eq!(deps, ["musl", "so:libz.so.1"]);
    }

    #[test]
    fn every_glibc_linked_file_is_named() {
        let err = alpine_depends(&index(vec![
            elf(
                "bin/a",
                Linkage::Dynamic,
                Some("/lib64/ld-linux-x86-64.so.2"),
                &["libc.so.6"],
            ),
            elf("bin/ok", Linkage::Static, None, &[]),
            elf("lib/libb.so", Linkage::Dynamic, None, &["libm.so.6"]),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("bin/a (interpreter /lib64/ld-linux-x86-64.so.2)"),
            "{err}"
        );
        assert!(err.contains("lib/libb.so (needs libm.so.6)"), "{err}");
        assert!(!err.contains("bin/ok"), "{err}");
    }
}
