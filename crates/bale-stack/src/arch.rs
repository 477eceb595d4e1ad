//! Debian architecture names: the machine's own, and which other ones a
//! stack may be made for (and which emulator runs their programs).

use crate::StackError;

/// The architecture whose images keep the unsuffixed directory name
/// (`stacks/<name>/`), as every image had before stacks had an architecture.
pub const UNMARKED_ARCH: &str = "amd64";

/// Debian architectures a stack can be made for: the Debian name, and the
/// name of the qemu user emulator and its binfmt_misc entry (`qemu-<that>`).
const ARCHES: &[(&str, &str)] = &[
    ("amd64", "x86_64"),
    ("arm64", "aarch64"),
    ("armhf", "arm"),
    ("armel", "arm"),
    ("i386", "i386"),
    ("ppc64el", "ppc64le"),
    ("riscv64", "riscv64"),
    ("s390x", "s390x"),
    ("mips64el", "mips64el"),
];

/// The Debian architecture of this machine (of the running bale binary).
pub fn machine_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "armhf",
        "x86" => "i386",
        "powerpc64" => "ppc64el",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "mips64" => "mips64el",
        other => other,
    }
}

/// Checks that `arch` is a Debian architecture bale can make a stack for.
pub fn check_arch(arch: &str) -> Result<(), StackError> {
    qemu_name(arch).map(|_| ())
}

/// The qemu name of `arch` (`arm64` → `aarch64`): the emulator is
/// `qemu-<name>-static`, its binfmt_misc entry `qemu-<name>`.
pub(crate) fn qemu_name(arch: &str) -> Result<&'static str, StackError> {
    ARCHES
        .iter()
        .find(|(debian, _)| *debian == arch)
        .map(|(_, qemu)| *qemu)
        .ok_or_else(|| StackError::BadArch {
            arch: arch.to_string(),
            known: ARCHES
                .iter()
                .map(|(d, _)| *d)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The directory name of stack `name`'s image for `arch`: the name alone
/// for [`UNMARKED_ARCH`] (so existing images and caches keep their place),
/// else `<name>@<arch>` (`@` is never part of a stack name).
pub fn image_dir_name(name: &str, arch: &str) -> String {
    if arch == UNMARKED_ARCH {
        name.to_string()
    } else {
        format!("{name}@{arch}")
    }
}

/// The stack name and architecture an image directory name stands for.
pub(crate) fn parse_image_dir_name(dir: &str) -> (&str, &str) {
    dir.split_once('@').unwrap_or((dir, UNMARKED_ARCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unmarked_arch_keeps_the_bare_name_and_others_are_suffixed() {
        assert_eq!(
            image_dir_name("debian-bookworm", "amd64"),
            "debian-bookworm"
        );
        assert_eq!(
            image_dir_name("debian-bookworm", "arm64"),
            "debian-bookworm@arm64"
        );
        assert_eq!(
            parse_image_dir_name("debian-bookworm@arm64"),
            ("debian-bookworm", "arm64")
        );
        assert_eq!(
            parse_image_dir_name("debian-bookworm"),
            ("debian-bookworm", "amd64")
        );
    }

    #[test]
    fn an_unknown_arch_is_refused_naming_the_known_ones() {
        assert_eq!(qemu_name("arm64").unwrap(), "aarch64");
        let err = check_arch("../x").unwrap_err().to_string();
        assert!(err.contains("arm64"), "{err}");
    }
}
