//! The tar segments of an apk, built byte by byte as abuild's `tar
//! --format=posix | abuild-tar` writes them: ustar headers owned by root,
//! one mtime for every entry, and a PAX header before each regular file and
//! symlink carrying `APK-TOOLS.checksum.SHA1`, the digest apk records for
//! the installed file.

use std::io::{self, Write};

use bale_archive::ustar::{pax_record, truncate, Header, BLOCK, OCTAL_11_MAX};

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

/// One ustar header block, owned by root:root (uid and gid 0).
fn ustar(name: &[u8], mode: u32, size: u64, mtime: u64, flag: u8, link: &[u8]) -> [u8; BLOCK] {
    bale_archive::ustar::header(&Header {
        name,
        mode: mode & 0o7777,
        size,
        mtime,
        flag,
        link,
        owner: Some(b"root"),
    })
}
