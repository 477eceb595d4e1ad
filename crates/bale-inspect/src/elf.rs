//! ELF facts: executable or library, linkage, interpreter, needed libraries.
//!
//! How an ET_DYN object is told apart, in order (each rule is decisive):
//! 1. `DF_1_PIE` in `DT_FLAGS_1`: an executable (modern linkers set it on
//!    every position-independent executable, static-pie included).
//! 2. A `DT_SONAME`: a shared library, even with an interpreter and an entry
//!    point (glibc's `libc.so.6` has both and is still a library).
//! 3. A `PT_INTERP`: an executable (PIE from a linker that predates `DF_1_PIE`).
//! 4. A non-zero entry point: a static-pie executable from such a linker
//!    (`-shared` objects get entry 0 unless they define `_start`).
//! 5. Otherwise a shared library.
//!
//! An executable with an interpreter, or any object with `DT_NEEDED`, links
//! `Dynamic`; an ET_DYN executable without one is `StaticPie`; an ET_EXEC
//! without one is `Static`. A shared library is always `Dynamic`: it is
//! loaded by the dynamic linker even when it needs nothing itself.

use goblin::container::Ctx;
use goblin::elf::dynamic::DF_1_PIE;
use goblin::elf::header::{ET_DYN, ET_EXEC};
use goblin::elf::program_header::{ProgramHeader, PT_INTERP};
use goblin::elf::Elf;

use crate::{ElfFacts, FileClass, InspectError, Linkage};

/// The four bytes every ELF file starts with.
const ELF_MAGIC: &[u8] = b"\x7fELF";

/// Whether the bytes start with the ELF magic.
pub(crate) fn has_magic(bytes: &[u8]) -> bool {
    bytes.starts_with(ELF_MAGIC)
}

/// Reads the facts of an ELF executable or shared object.
///
/// Returns `Ok(None)` for bytes that are not ELF, and for ELF files that are
/// neither executables nor shared objects (relocatable objects, core dumps).
/// Bytes that start with the ELF magic but do not parse are
/// [`InspectError::MalformedElf`]; this never panics on any input.
pub fn elf_facts(bytes: &[u8]) -> Result<Option<ElfFacts>, InspectError> {
    Ok(inspect(bytes)?.map(|(_, facts)| facts))
}

/// The class of an ELF file, from the whole file or, failing that, its headers.
pub(crate) fn class_of(bytes: &[u8]) -> FileClass {
    match inspect(bytes) {
        Ok(Some((class, _))) => class,
        Ok(None) => FileClass::Data,
        Err(_) => class_from_headers(bytes).unwrap_or(FileClass::Data),
    }
}

/// Parses the ELF file and decides its class and facts.
pub(crate) fn inspect(bytes: &[u8]) -> Result<Option<(FileClass, ElfFacts)>, InspectError> {
    if !has_magic(bytes) {
        return Ok(None);
    }
    let elf = parse(bytes)?;
    let e_type = elf.header.e_type;
    if e_type != ET_EXEC && e_type != ET_DYN {
        return Ok(None);
    }
    let has_interp = elf.program_headers.iter().any(|ph| ph.p_type == PT_INTERP);
    let is_executable = e_type == ET_EXEC || is_dyn_executable(&elf, has_interp);
    let linkage = if has_interp || !elf.libraries.is_empty() || !is_executable {
        Linkage::Dynamic
    } else if e_type == ET_DYN {
        Linkage::StaticPie
    } else {
        Linkage::Static
    };
    let class = if is_executable {
        FileClass::ElfExecutable
    } else {
        FileClass::SharedLibrary
    };
    let facts = ElfFacts {
        linkage,
        interp: elf.interpreter.map(str::to_owned),
        needed: elf.libraries.iter().map(|lib| (*lib).to_owned()).collect(),
        soname: elf.soname.map(str::to_owned),
        machine: crate::arch::elf_machine_arch(elf.header.e_machine, elf.is_64, elf.little_endian)
            .map(str::to_owned),
    };
    Ok(Some((class, facts)))
}

/// Whether an ET_DYN object is an executable, by the rules in the module docs.
fn is_dyn_executable(elf: &Elf<'_>, has_interp: bool) -> bool {
    let flags_1 = elf
        .dynamic
        .as_ref()
        .map_or(0, |dynamic| dynamic.info.flags_1);
    if flags_1 & DF_1_PIE != 0 {
        true
    } else if elf.soname.is_some() {
        false
    } else {
        has_interp || elf.entry != 0
    }
}

/// Parses with goblin, turning a panic into an error.
///
/// goblin is fuzzed and returns errors for bad input, but a crafted file in a
/// package must never bring bale down, so a panic is caught as well.
fn parse(bytes: &[u8]) -> Result<Elf<'_>, InspectError> {
    match std::panic::catch_unwind(|| Elf::parse(bytes)) {
        Ok(Ok(elf)) => Ok(elf),
        Ok(Err(error)) => Err(InspectError::MalformedElf {
            reason: error.to_string(),
        }),
        Err(_) => Err(InspectError::MalformedElf {
            reason: "the ELF parser gave up".to_owned(),
        }),
    }
}

/// The class from the ELF header and program headers only, for a head of a file.
fn class_from_headers(head: &[u8]) -> Option<FileClass> {
    let header = Elf::parse_header(head).ok()?;
    match header.e_type {
        ET_EXEC => Some(FileClass::ElfExecutable),
        ET_DYN => {
            let ctx = Ctx::new(header.container().ok()?, header.endianness().ok()?);
            let phoff = usize::try_from(header.e_phoff).ok()?;
            let phdrs = ProgramHeader::parse(head, phoff, usize::from(header.e_phnum), ctx).ok()?;
            if phdrs.iter().any(|ph| ph.p_type == PT_INTERP) {
                Some(FileClass::ElfExecutable)
            } else {
                Some(FileClass::SharedLibrary)
            }
        }
        _ => None,
    }
}
