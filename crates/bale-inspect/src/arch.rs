//! Debian architecture names: of this machine, and of an ELF file's machine.
//!
//! A package's `arch` is a Debian architecture name (`amd64`, `arm64`, …) or
//! `all`; the same names are what `dpkg --print-architecture` prints, so a
//! package, a stack and a machine compare as plain strings.

use goblin::elf::header::{
    EM_386, EM_AARCH64, EM_ARM, EM_MIPS, EM_PPC64, EM_RISCV, EM_S390, EM_X86_64,
};

/// The architecture of a package that ships no ELF file: it runs anywhere.
pub const ALL: &str = "all";

/// The Debian architecture name of this machine (what `dpkg
/// --print-architecture` prints on it), from the architecture bale was
/// compiled for.
pub fn machine_arch() -> &'static str {
    debian_arch(std::env::consts::ARCH, cfg!(target_endian = "little"))
}

/// The Debian name of a Rust target architecture (`std::env::consts::ARCH`).
fn debian_arch(rust_arch: &'static str, little_endian: bool) -> &'static str {
    match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "riscv64" => "riscv64",
        "powerpc64" if little_endian => "ppc64el",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "loongarch64" => "loong64",
        "mips64" if little_endian => "mips64el",
        "mips" if little_endian => "mipsel",
        other => other,
    }
}

/// `EM_LOONGARCH`, which goblin does not name.
const EM_LOONGARCH: u16 = 258;

/// The Debian architecture an ELF file's header says it runs on: its
/// `e_machine`, word size and byte order. `None` for machines Debian has no
/// port for.
pub fn elf_machine_arch(e_machine: u16, is_64: bool, little_endian: bool) -> Option<&'static str> {
    Some(match (e_machine, is_64, little_endian) {
        (EM_X86_64, true, _) => "amd64",
        (EM_X86_64, false, _) => "x32",
        (EM_AARCH64, _, _) => "arm64",
        (EM_386, _, _) => "i386",
        // armel and armhf differ only in the float ABI, not the header's machine.
        (EM_ARM, _, _) => "armhf",
        (EM_RISCV, true, _) => "riscv64",
        (EM_PPC64, true, true) => "ppc64el",
        (EM_PPC64, true, false) => "ppc64",
        (EM_S390, true, _) => "s390x",
        (EM_LOONGARCH, true, _) => "loong64",
        (EM_MIPS, true, true) => "mips64el",
        (EM_MIPS, false, true) => "mipsel",
        _ => return None,
    })
}

/// Whether `arch` is spelled as a Debian architecture name or `all`:
/// lower-case letters and digits, with inner `-`, at most 32 bytes. It names
/// files and directories, so nothing else is accepted.
pub fn is_arch_name(arch: &str) -> bool {
    !arch.is_empty()
        && arch.len() <= 32
        && arch.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && !arch.ends_with('-')
        && arch
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_architectures_map_to_debian_names() {
        assert_eq!(debian_arch("x86_64", true), "amd64");
        assert_eq!(debian_arch("aarch64", true), "arm64");
        assert_eq!(debian_arch("powerpc64", true), "ppc64el");
        assert_eq!(debian_arch("riscv64", true), "riscv64");
        assert!(is_arch_name(machine_arch()));
    }

    #[test]
    fn elf_machines_map_to_debian_names() {
        assert_eq!(elf_machine_arch(EM_X86_64, true, true), Some("amd64"));
        assert_eq!(elf_machine_arch(EM_AARCH64, true, true), Some("arm64"));
        assert_eq!(elf_machine_arch(EM_RISCV, true, true), Some("riscv64"));
        assert_eq!(elf_machine_arch(0x1234, true, true), None);
    }

    #[test]
    fn arch_names_are_plain_words() {
        for good in ["amd64", "arm64", "all", "mips64el", "hurd-i386"] {
            assert!(is_arch_name(good), "{good}");
        }
        for bad in [
            "",
            "AMD64",
            "../x",
            "a/b",
            "-x",
            "x-",
            "amd64 ",
            "a.b",
            &"a".repeat(33),
        ] {
            assert!(!is_arch_name(bad), "{bad}");
        }
    }
}
