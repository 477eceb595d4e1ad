//! The bytes of a `.deb`: an `ar` archive of `debian-binary`,
//! `control.tar.xz` and `data.tar.xz`, and the tar streams inside it.
//!
//! Written here byte by byte (GNU tar headers, as `dpkg-deb` writes them)
//! so that nothing about the exporting machine reaches the package: owners
//! are root/root, every mtime is the package's `SOURCE_DATE_EPOCH`, and
//! the xz preset and single-threaded encoder are fixed.

use std::io::{self, Read, Write};

/// The xz preset of both tar members: `dpkg-deb`'s default.
pub(crate) const XZ_PRESET: u32 = 6;

const BLOCK: usize = 512;

/// A tar stream being written: GNU headers, a `././@LongLink` entry before
/// any name or link target longer than the header holds.
pub(crate) struct TarWriter<W: Write> {
    out: W,
    mtime: u64,
}

impl<W: Write> TarWriter<W> {
    /// A tar stream into `out` whose entries all carry `mtime`.
    pub(crate) fn new(out: W, mtime: u64) -> TarWriter<W> {
        TarWriter { out, mtime }
    }

    /// A directory; `path` is written with a trailing `/`.
    pub(crate) fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        let name = format!("{path}/");
        self.header(&name, mode, 0, b'5', "")
    }

    /// A symbolic link to `target`.
    pub(crate) fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.header(path, 0o777, 0, b'2', target)
    }

    /// A regular file of `size` bytes read from `content`.
    pub(crate) fn file(
        &mut self,
        path: &str,
        mode: u32,
        size: u64,
        content: &mut dyn Read,
    ) -> io::Result<()> {
        self.header(path, mode, size, b'0', "")?;
        let copied = io::copy(&mut content.take(size), &mut self.out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{path}: the file changed size while being exported"),
            ));
        }
        self.pad(size)
    }

    /// Ends the stream (two zero blocks) and returns the writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        Ok(self.out)
    }

    fn header(&mut self, name: &str, mode: u32, size: u64, flag: u8, link: &str) -> io::Result<()> {
        if link.len() > 100 {
            self.long_link(b'K', link)?;
        }
        if name.len() > 100 {
            self.long_link(b'L', name)?;
        }
        let block = gnu_header(
            name.as_bytes(),
            mode,
            size,
            self.mtime,
            flag,
            link.as_bytes(),
        );
        self.out.write_all(&block)
    }

    /// GNU's long name (`L`) or long link (`K`) entry: the full value, NUL-terminated.
    fn long_link(&mut self, flag: u8, value: &str) -> io::Result<()> {
        let mut data = value.as_bytes().to_vec();
        data.push(0);
        let size = data.len() as u64;
        let block = gnu_header(b"././@LongLink", 0o644, size, self.mtime, flag, b"");
        self.out.write_all(&block)?;
        self.out.write_all(&data)?;
        self.pad(size)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rest = (BLOCK - (size % BLOCK as u64) as usize) % BLOCK;
        self.out.write_all(&[0u8; BLOCK][..rest])
    }
}

/// One GNU tar header block; `name` and `link` are cut to their fields
/// (the caller wrote a long-link entry before when they do not fit).
fn gnu_header(name: &[u8], mode: u32, size: u64, mtime: u64, flag: u8, link: &[u8]) -> [u8; BLOCK] {
    let mut h = [0u8; BLOCK];
    put(&mut h[0..100], name);
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = flag;
    put(&mut h[157..257], link);
    h[257..265].copy_from_slice(b"ustar  \0");
    put(&mut h[265..297], b"root");
    put(&mut h[297..329], b"root");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Zero-padded octal filling the field but its last byte (a NUL).
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    let bytes = text.as_bytes();
    let bytes = &bytes[bytes.len().saturating_sub(digits)..];
    field[..digits].copy_from_slice(bytes);
    field[digits] = 0;
}

/// The `ar` archive of a `.deb`: the global header, then members in order.
pub(crate) struct ArWriter<W: Write> {
    out: W,
    mtime: u64,
}

impl<W: Write> ArWriter<W> {
    /// Starts an archive whose members all carry `mtime`.
    pub(crate) fn new(mut out: W, mtime: u64) -> io::Result<ArWriter<W>> {
        out.write_all(b"!<arch>\n")?;
        Ok(ArWriter { out, mtime })
    }

    /// Appends a member of `size` bytes read from `content`.
    pub(crate) fn member(
        &mut self,
        name: &str,
        size: u64,
        content: &mut dyn Read,
    ) -> io::Result<()> {
        let header = format!(
            "{name:<16}{mtime:<12}{uid:<6}{gid:<6}{mode:<8}{size:<10}`\n",
            mtime = self.mtime,
            uid = 0,
            gid = 0,
            mode = "100644",
        );
        if header.len() != 60 {
            return Err(io::Error::other(format!(
                "ar member {name} of {size} bytes does not fit an ar header"
            )));
        }
        self.out.write_all(header.as_bytes())?;
        let copied = io::copy(&mut content.take(size), &mut self.out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("ar member {name} is shorter than it said"),
            ));
        }
        if size % 2 == 1 {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// The finished archive's writer.
    pub(crate) fn finish(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_checksum_counts_its_own_field_as_spaces() {
        let h = gnu_header(b"./usr/", 0o755, 0, 1_700_000_000, b'5', b"");
        let mut copy = h;
        copy[148..156].fill(b' ');
        let sum: u32 = copy.iter().map(|&b| u32::from(b)).sum();
        let field = std::str::from_utf8(&h[148..154]).expect("octal");
        assert_eq!(u32::from_str_radix(field, 8).expect("octal"), sum);
    }

    #[test]
    fn a_long_name_goes_into_a_long_link_entry_before_its_header() {
        let name = format!("./opt/{}", "x".repeat(200));
        let mut tar = TarWriter::new(Vec::new(), 0);
        tar.file(&name, 0o644, 3, &mut &b"abc"[..]).expect("write");
        let bytes = tar.finish().expect("finish");
        assert_eq!(&bytes[0..13], b"././@LongLink");
        assert_eq!(bytes[156], b'L');
        assert_eq!(&bytes[512..512 + name.len()], name.as_bytes());
        assert_eq!(bytes[512 + name.len()], 0);
    }

    #[test]
    fn an_odd_sized_ar_member_is_padded_to_an_even_offset() {
        let mut ar = ArWriter::new(Vec::new(), 7).expect("ar");
        ar.member("debian-binary", 3, &mut &b"2.0"[..])
            .expect("member");
        let bytes = ar.finish();
        assert_eq!(bytes.len(), 8 + 60 + 4);
        assert_eq!(&bytes[8..24], b"debian-binary   ");
        assert_eq!(&bytes[24..36], b"7           ");
    }
}
