//! Tar headers built byte by byte, so that nothing about the packing machine
//! (owner names, times, umask, tar library defaults) reaches the archive.
//!
//! POSIX ustar headers; a path or link target longer than 100 bytes, a size
//! of 8 GiB or more, or an mtime past the octal field goes into a PAX
//! extended header before the entry, which GNU tar and bsdtar list correctly.

/// A tar block.
pub(crate) const BLOCK: usize = 512;
/// A tar record: 20 blocks, the unit GNU tar pads an archive's end to.
pub(crate) const RECORD: u64 = 20 * BLOCK as u64;

/// Longest value the 11 octal digits of the size and mtime fields hold.
const OCTAL_11_MAX: u64 = 0o77777777777;

/// The type of an entry, with its tar type flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Regular file, `0`.
    File,
    /// Directory, `5`.
    Dir,
    /// Symbolic link, `2`.
    Symlink,
}

impl Kind {
    fn flag(self) -> u8 {
        match self {
            Kind::File => b'0',
            Kind::Dir => b'5',
            Kind::Symlink => b'2',
        }
    }
}

/// One entry's header fields.
pub(crate) struct EntryHeader<'a> {
    /// The path as stored (directories end with `/`).
    pub name: &'a str,
    /// File, directory or symlink.
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
    /// Content size (files only).
    pub size: u64,
    /// Modification time for every entry.
    pub mtime: u64,
    /// Symlink target.
    pub link: &'a str,
}

/// Bytes to add after `size` bytes of content to reach a block boundary.
pub(crate) fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

/// Appends the header block(s) of `entry` to `out`: a PAX header when a
/// field does not fit, then the ustar header.
pub(crate) fn append(out: &mut Vec<u8>, entry: &EntryHeader<'_>) {
    let mut pax = Vec::new();
    if entry.name.len() > 100 {
        pax_record(&mut pax, "path", entry.name);
    }
    if entry.link.len() > 100 {
        pax_record(&mut pax, "linkpath", entry.link);
    }
    if entry.size > OCTAL_11_MAX {
        pax_record(&mut pax, "size", &entry.size.to_string());
    }
    if entry.mtime > OCTAL_11_MAX {
        pax_record(&mut pax, "mtime", &entry.mtime.to_string());
    }
    if !pax.is_empty() {
        out.extend_from_slice(&ustar(
            b"././@PaxHeader",
            0o644,
            pax.len() as u64,
            entry.mtime.min(OCTAL_11_MAX),
            b'x',
            b"",
        ));
        out.extend_from_slice(&pax);
        out.resize(out.len() + padding(pax.len() as u64), 0);
    }
    out.extend_from_slice(&ustar(
        truncate(entry.name, 100),
        entry.mode,
        if entry.size > OCTAL_11_MAX {
            0
        } else {
            entry.size
        },
        entry.mtime.min(OCTAL_11_MAX),
        entry.kind.flag(),
        truncate(entry.link, 100),
    ));
}

/// Appends the end-of-archive marker: two zero blocks.
pub(crate) fn append_end(out: &mut Vec<u8>) {
    out.resize(out.len() + 2 * BLOCK, 0);
}

/// The first `max` bytes of `s` (the full value is in the PAX header).
fn truncate(s: &str, max: usize) -> &[u8] {
    &s.as_bytes()[..s.len().min(max)]
}

/// Appends `"<len> key=value\n"`, where `<len>` counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &str) {
    let rest = 1 + key.len() + 1 + value.len() + 1;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(format!("{len} {key}={value}\n").as_bytes());
}

/// One ustar header block.
fn ustar(name: &[u8], mode: u32, size: u64, mtime: u64, flag: u8, link: &[u8]) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let field = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(field.as_bytes());
    h
}

/// Writes `value` as zero-padded octal filling `field` but its last byte (NUL).
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&text.as_bytes()[text.len() - digits..]);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_its_own_digits() {
        let mut out = Vec::new();
        pax_record(&mut out, "path", &"a".repeat(93));
        assert_eq!(out.len(), 103);
        assert!(out.starts_with(b"103 path="));
        let mut out = Vec::new();
        pax_record(&mut out, "path", "ab");
        assert_eq!(out, b"11 path=ab\n");
    }

    #[test]
    fn header_checksum_is_the_sum_with_spaces_in_its_field() {
        let h = ustar(b"bin/", 0o755, 0, 0, b'5', b"");
        let mut copy = h;
        copy[148..156].fill(b' ');
        let sum: u32 = copy.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(&h[148..155], format!("{sum:06o}\0").as_bytes());
    }
}
