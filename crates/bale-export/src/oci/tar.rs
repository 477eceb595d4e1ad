//! Tar headers for image layers, built byte by byte so that nothing of the
//! exporting machine (owner names, times, umask) reaches a layer: POSIX
//! ustar, with a PAX extended header before an entry whose path or link
//! target is longer than the ustar fields hold or is not UTF-8-clean ASCII.

use std::io::{self, Write};

/// A tar block.
pub(crate) const BLOCK: usize = 512;

/// Longest value the 11 octal digits of the size field hold.
const OCTAL_11_MAX: u64 = 0o77777777777;

/// What an entry is, with its tar type flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file, `0`.
    File,
    /// A hard link to an earlier entry of the same layer, `1`.
    HardLink,
    /// A symbolic link, `2`.
    Symlink,
    /// A directory, `5`.
    Dir,
}

impl Kind {
    fn flag(self) -> u8 {
        match self {
            Kind::File => b'0',
            Kind::HardLink => b'1',
            Kind::Symlink => b'2',
            Kind::Dir => b'5',
        }
    }
}

/// One entry's header fields.
pub(crate) struct Header<'a> {
    /// The path inside the layer, relative, without a leading `/`
    /// (directories end with `/`).
    pub name: &'a [u8],
    /// What it is.
    pub kind: Kind,
    /// Permission bits (with setuid/setgid/sticky where the stack has them).
    pub mode: u32,
    /// Numeric owner and group.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// Content size (regular files only).
    pub size: u64,
    /// Every entry's modification time: `SOURCE_DATE_EPOCH`.
    pub mtime: u64,
    /// The link target (symlinks and hard links).
    pub link: &'a [u8],
}

/// Writes the header block(s) of `entry`: a PAX header when a field does not fit, then ustar.
pub(crate) fn write_header(out: &mut impl Write, entry: &Header<'_>) -> io::Result<()> {
    let mut pax = Vec::new();
    if entry.name.len() > 100 {
        pax_record(&mut pax, b"path", entry.name);
    }
    if entry.link.len() > 100 {
        pax_record(&mut pax, b"linkpath", entry.link);
    }
    if entry.size > OCTAL_11_MAX {
        pax_record(&mut pax, b"size", entry.size.to_string().as_bytes());
    }
    if !pax.is_empty() {
        let header = ustar(
            b"././@PaxHeader",
            0o644,
            (0, 0),
            pax.len() as u64,
            entry.mtime,
            b'x',
            b"",
        );
        out.write_all(&header)?;
        out.write_all(&pax)?;
        pad(out, pax.len() as u64)?;
    }
    let size = if entry.size > OCTAL_11_MAX {
        0
    } else {
        entry.size
    };
    let header = ustar(
        truncate(entry.name, 100),
        entry.mode,
        (entry.uid, entry.gid),
        size,
        entry.mtime,
        entry.kind.flag(),
        truncate(entry.link, 100),
    );
    out.write_all(&header)
}

/// Writes the zero bytes that bring `size` bytes of content to a block boundary.
pub(crate) fn pad(out: &mut impl Write, size: u64) -> io::Result<()> {
    let n = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
    out.write_all(&[0u8; BLOCK][..n])
}

/// Writes the end-of-archive marker: two zero blocks.
pub(crate) fn write_end(out: &mut impl Write) -> io::Result<()> {
    out.write_all(&[0u8; 2 * BLOCK])
}

fn truncate(s: &[u8], max: usize) -> &[u8] {
    &s[..s.len().min(max)]
}

/// Appends `"<len> key=value\n"`, where `<len>` counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = 1 + key.len() + 1 + value.len() + 1;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// One ustar header block.
fn ustar(
    name: &[u8],
    mode: u32,
    (uid, gid): (u32, u32),
    size: u64,
    mtime: u64,
    flag: u8,
    link: &[u8],
) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    octal(&mut h[100..108], u64::from(mode & 0o7777));
    octal(&mut h[108..116], u64::from(uid));
    octal(&mut h[116..124], u64::from(gid));
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime.min(OCTAL_11_MAX));
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    // The checksum is computed with its own field as spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

/// Writes `value` as zero-padded octal digits and a NUL into `field`.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    let text = &text.as_bytes()[text.len().saturating_sub(digits)..];
    field[..digits].copy_from_slice(text);
    field[digits] = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_path_goes_into_a_pax_header_that_counts_its_own_length() {
        let name = vec![b'a'; 150];
        let mut out = Vec::new();
        write_header(
            &mut out,
            &Header {
                name: &name,
                kind: Kind::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size: 3,
                mtime: 7,
                link: b"",
            },
        )
        .expect("write");
        assert_eq!(
            out.len(),
            3 * BLOCK,
            "pax header, its record, the ustar header"
        );
        assert_eq!(out[156], b'x');
        let record = String::from_utf8_lossy(&out[BLOCK..BLOCK + 160]);
        let (len, rest) = record.split_once(' ').expect("a length");
        let len: usize = len.parse().expect("a number");
        assert!(rest.starts_with("path=aaa"));
        assert_eq!(record.as_bytes()[len - 1], b'\n');
        assert_eq!(&out[2 * BLOCK + 257..2 * BLOCK + 262], b"ustar");
    }
}
