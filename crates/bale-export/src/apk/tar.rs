//! The tar segments of an apk, built byte by byte as abuild's `tar
//! --format=posix | abuild-tar` writes them: ustar headers owned by root,
//! one mtime for every entry, and a PAX header before each regular file and
//! symlink carrying `APK-TOOLS.checksum.SHA1`, the digest apk records for
//! the installed file.

use std::io::{self, Write};

/// A tar block.
const BLOCK: usize = 512;
/// Longest value the 11 octal digits of the size and mtime fields hold.
const OCTAL_11_MAX: u64 = 0o77777777777;

/// What an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file of this many bytes, with the SHA-1 of its content
    /// (data files; the signature and `.PKGINFO` carry none, as abuild's).
    File { size: u64, sha1: Option<[u8; 20]> },
    /// A directory.
    Dir,
    /// A symbolic link to this target.
    Symlink,
}

/// One entry's header.
pub(crate) struct Entry<'a> {
    /// The path as stored, relative (directories end with `/`).
    pub name: &'a str,
    /// File, directory or symlink.
    pub kind: Kind,
    /// Permission bits.
    pub mode: u32,
    /// Every entry's mtime: `SOURCE_DATE_EPOCH`.
    pub mtime: u64,
    /// The symlink's target (empty for the others).
    pub link: &'a str,
}

/// Writes the header block(s) of `entry`; a regular file's content follows,
/// then [`pad`].
pub(crate) fn write_header(out: &mut impl Write, entry: &Entry<'_>) -> io::Result<()> {
    let mut pax = Vec::new();
    if entry.name.len() > 100 {
        pax_record(&mut pax, "path", entry.name);
    }
    if entry.link.len() > 100 {
        pax_record(&mut pax, "linkpath", entry.link);
    }
    let (size, flag) = match entry.kind {
        Kind::File { size, sha1 } => {
            if size > OCTAL_11_MAX {
                pax_record(&mut pax, "size", &size.to_string());
            }
            if let Some(sha1) = sha1 {
                pax_record(&mut pax, "APK-TOOLS.checksum.SHA1", &hex(&sha1));
            }
            (size, b'0')
        }
        Kind::Symlink => {
            // abuild-tar hashes a symlink's target as if it were its content.
            let sha1 = <sha1::Sha1 as sha1::Digest>::digest(entry.link.as_bytes());
            pax_record(&mut pax, "APK-TOOLS.checksum.SHA1", &hex(&sha1));
            (0, b'2')
        }
        Kind::Dir => (0, b'5'),
    };
    let mtime = entry.mtime.min(OCTAL_11_MAX);
    if !pax.is_empty() {
        out.write_all(&ustar(
            truncate("PaxHeader", 100),
            0o644,
            pax.len() as u64,
            mtime,
            b'x',
            b"",
        ))?;
        out.write_all(&pax)?;
        pad(out, pax.len() as u64)?;
    }
    out.write_all(&ustar(
        truncate(entry.name, 100),
        entry.mode,
        size.min(OCTAL_11_MAX),
        mtime,
        flag,
        truncate(entry.link, 100),
    ))
}

/// Writes the zeros that bring `size` bytes of content to a block boundary.
pub(crate) fn pad(out: &mut impl Write, size: u64) -> io::Result<()> {
    let n = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
    out.write_all(&[0u8; BLOCK][..n])
}

/// Writes the end-of-archive marker, two zero blocks. Only the last segment
/// of an apk (its data) has one: apk reads the three segments as one tar
/// stream, and an earlier marker would end it (abuild-tar `--cut`).
pub(crate) fn write_end(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&[0u8; 2 * BLOCK])
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// One ustar header block, owned by root:root (uid and gid 0).
fn ustar(name: &[u8], mode: u32, size: u64, mtime: u64, flag: u8, link: &[u8]) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], u64::from(mode & 0o7777));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    // Six digits, a NUL, a space: what GNU tar writes.
    let digits = format!("{sum:06o}");
    h[148..154].copy_from_slice(&digits.as_bytes()[digits.len() - 6..]);
    h[154] = 0;
    h[155] = b' ';
    h
}

/// Writes `value` as zero-padded octal filling `field` but its last byte (a NUL).
fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let digits = format!("{value:0width$o}");
    field[..width].copy_from_slice(&digits.as_bytes()[digits.len() - width..]);
    field[width] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pax_record_counts_its_own_length() {
        let mut out = Vec::new();
        pax_record(&mut out, "APK-TOOLS.checksum.SHA1", &"a".repeat(40));
        let text = String::from_utf8(out).unwrap();
        let (len, _) = text.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), text.len());
    }

    #[test]
    fn a_header_checksum_is_the_sum_of_its_bytes_with_the_field_as_spaces() {
        let h = ustar(b"opt/", 0o755, 0, 1_700_000_000, b'5', b"");
        let mut copy = h;
        copy[148..156].copy_from_slice(b"        ");
        let sum: u64 = copy.iter().map(|&b| u64::from(b)).sum();
        let stored = std::str::from_utf8(&h[148..154]).unwrap();
        assert_eq!(u64::from_str_radix(stored, 8).unwrap(), sum);
    }
}
