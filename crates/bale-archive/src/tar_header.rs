//! Tar headers built byte by byte, so that nothing about the packing machine
//! (owner names, times, umask, tar library defaults) reaches the archive.
//!
//! POSIX ustar headers; a path or link target longer than 100 bytes, a size
//! of 8 GiB or more, or an mtime past the octal field goes into a PAX
//! extended header before the entry, which GNU tar and bsdtar list correctly.

pub(crate) use crate::ustar::BLOCK;
use crate::ustar::{pax_record, truncate, Header, OCTAL_11_MAX};

/// A tar record: 20 blocks, the unit GNU tar pads an archive's end to.
pub(crate) const RECORD: u64 = 20 * BLOCK as u64;

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

/// One ustar header block, naming no owner.
fn ustar(name: &[u8], mode: u32, size: u64, mtime: u64, flag: u8, link: &[u8]) -> [u8; BLOCK] {
    crate::ustar::header(&Header {
        name,
        mode,
        size,
        mtime,
        flag,
        link,
        owner: None,
    })
}
