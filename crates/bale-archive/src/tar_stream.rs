//! A strict tar parser over a buffered byte stream: ustar headers and PAX
//! extended headers only, checksums verified, every other entry type refused.

use std::io::{BufRead, ErrorKind};

use crate::tar_header::{padding, BLOCK, RECORD};
use crate::{ArchiveError, Limits};

/// Largest PAX extended header accepted; it only ever holds a path, a link
/// target, a size and an mtime.
const PAX_MAX: u64 = 1 << 20;

/// One entry as the tar stream declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A regular file; `size` bytes of content follow.
    File { path: String, mode: u32, size: u64 },
    /// A directory (trailing `/` removed).
    Dir { path: String, mode: u32 },
    /// A symbolic link.
    Symlink {
        path: String,
        mode: u32,
        target: String,
    },
    /// The end-of-archive marker.
    End,
}

/// The tar stream, read header by header.
pub(crate) struct TarStream<R> {
    src: R,
    offset: u64,
    entries: u64,
    max_entries: u64,
    /// The stream may not go past this byte ([`Self::limit_to`]).
    budget: u64,
}

/// Values a PAX header sets for the entry after it.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
}

impl<R: BufRead> TarStream<R> {
    /// A parser over `src` counting entries against `limits`.
    pub(crate) fn new(src: R, limits: &Limits) -> Self {
        // The three `.bale/` entries come on top of the index's records.
        TarStream {
            src,
            offset: 0,
            entries: 0,
            max_entries: limits.max_entries.saturating_add(3),
            budget: u64::MAX,
        }
    }

    /// The next entry's header; its content (files) must be read with
    /// [`Self::read_data`] before asking for the next.
    pub(crate) fn next_entry(&mut self) -> Result<Entry, ArchiveError> {
        let mut pax = Pax::default();
        loop {
            let at = self.offset;
            self.within_budget(at, BLOCK as u64)?;
            let Some(block) = self.read_block()? else {
                return Err(ArchiveError::TruncatedTar(format!(
                    "the tar stream ends at byte {at} without its end-of-archive marker"
                )));
            };
            if block.iter().all(|&b| b == 0) {
                let second_is_zero = match self.read_block()? {
                    Some(second) => second.iter().all(|&b| b == 0),
                    None => false,
                };
                if !second_is_zero {
                    return Err(ArchiveError::TruncatedTar(format!(
                        "the end-of-archive marker at byte {at} is incomplete"
                    )));
                }
                return Ok(Entry::End);
            }
            check_header(&block, at)?;
            self.entries += 1;
            if self.entries > self.max_entries {
                return Err(ArchiveError::LimitExceeded {
                    what: "entries",
                    limit: self.max_entries - 3,
                });
            }
            let mut name = match pax.path.take() {
                Some(path) => path,
                None => ustar_name(&block),
            };
            let size = match pax.size.take() {
                Some(size) => size,
                None => octal(&block[124..136], "size", at)?,
            };
            let mode = octal(&block[100..108], "mode", at)? as u32;
            let flag = block[156];
            if flag == b'x' {
                if size > PAX_MAX {
                    return Err(ArchiveError::CorruptTar(format!(
                        "the PAX header at byte {at} is {size} bytes long"
                    )));
                }
                self.within_budget(at + BLOCK as u64, size)?;
                let data = self.read_to_vec(size)?;
                pax = parse_pax(&data, at)?;
                // A PAX header's own entries count once, with the entry they describe.
                self.entries -= 1;
                continue;
            }
            if flag == b'5' && name.last() == Some(&b'/') {
                name.pop();
            }
            let path = String::from_utf8(name).map_err(|e| ArchiveError::InvalidPath {
                path: String::from_utf8_lossy(e.as_bytes()).into_owned(),
            })?;
            return match flag {
                b'0' | 0 if !path.ends_with('/') => Ok(Entry::File { path, mode, size }),
                b'5' => Ok(Entry::Dir { path, mode }),
                b'2' => {
                    let target = match pax.linkpath.take() {
                        Some(target) => target,
                        None => cstr(&block[157..257]).to_vec(),
                    };
                    let target = String::from_utf8(target)
                        .map_err(|_| ArchiveError::InvalidPath { path: path.clone() })?;
                    Ok(Entry::Symlink { path, mode, target })
                }
                b'1' => Err(ArchiveError::HardLink { path }),
                b'3' | b'4' => Err(ArchiveError::SpecialEntry {
                    path,
                    kind: "device node".into(),
                }),
                b'6' => Err(ArchiveError::SpecialEntry {
                    path,
                    kind: "fifo".into(),
                }),
                b'0' | 0 => Err(ArchiveError::InvalidPath { path }),
                other => Err(ArchiveError::SpecialEntry {
                    path,
                    kind: format!("tar entry of type `{}`", (other as char).escape_default()),
                }),
            };
        }
    }

    /// Passes the `size` bytes of content to `each`, in pieces, then skips the padding.
    pub(crate) fn read_data(
        &mut self,
        size: u64,
        mut each: impl FnMut(&[u8]) -> Result<(), ArchiveError>,
    ) -> Result<(), ArchiveError> {
        let mut remaining = size;
        while remaining > 0 {
            let available = self.fill()?;
            if available.is_empty() {
                return Err(ArchiveError::TruncatedTar(format!(
                    "the tar stream ends at byte {} inside an entry's content",
                    self.offset
                )));
            }
            let n = available
                .len()
                .min(remaining.min(usize::MAX as u64) as usize);
            each(&available[..n])?;
            self.consume(n);
            remaining -= n as u64;
        }
        self.skip_padding(size)
    }

    /// Reads `size` bytes of content into memory (the caller bounds `size`).
    pub(crate) fn read_to_vec(&mut self, size: u64) -> Result<Vec<u8>, ArchiveError> {
        let mut out = Vec::with_capacity(size.min(PAX_MAX) as usize);
        self.read_data(size, |piece| {
            out.extend_from_slice(piece);
            Ok(())
        })?;
        Ok(out)
    }

    /// After [`Entry::End`]: reads to the end of the stream, which may hold
    /// only the zeros that pad the archive to a whole tar record. Anything
    /// more is refused at once, so a stream that inflates to gigabytes of
    /// zeros past the end costs no more than a record to read.
    pub(crate) fn finish(&mut self) -> Result<(), ArchiveError> {
        let padded_end = self.offset.div_ceil(RECORD) * RECORD;
        loop {
            let offset = self.offset;
            let available = self.fill()?;
            if available.is_empty() {
                return Ok(());
            }
            let allowed = (padded_end - offset).min(available.len() as u64) as usize;
            if available[..allowed].iter().any(|&b| b != 0) || available.len() > allowed {
                return Err(ArchiveError::CorruptTar(format!(
                    "data follows the end of the archive (its end-of-archive marker and padding to {RECORD} bytes) at byte {}",
                    offset + allowed as u64
                )));
            }
            self.consume(allowed);
        }
    }

    /// Bytes read so far.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Refuses to read past byte `end` of the stream: what the index declares.
    pub(crate) fn limit_to(&mut self, end: u64) {
        self.budget = end;
    }

    /// Refuses a read of `len` bytes at `at` that would pass the budget.
    fn within_budget(&self, at: u64, len: u64) -> Result<(), ArchiveError> {
        if at.saturating_add(len) > self.budget {
            return Err(ArchiveError::LimitExceeded {
                what: "bytes the index declares",
                limit: self.budget,
            });
        }
        Ok(())
    }

    fn skip_padding(&mut self, size: u64) -> Result<(), ArchiveError> {
        let mut pad = padding(size);
        while pad > 0 {
            let available = self.fill()?;
            if available.is_empty() {
                return Err(ArchiveError::TruncatedTar(format!(
                    "the tar stream ends at byte {} inside an entry's padding",
                    self.offset
                )));
            }
            let n = available.len().min(pad);
            self.consume(n);
            pad -= n;
        }
        Ok(())
    }

    /// One block, `None` at a clean end of the stream.
    fn read_block(&mut self) -> Result<Option<[u8; BLOCK]>, ArchiveError> {
        let mut block = [0u8; BLOCK];
        let mut filled = 0;
        while filled < BLOCK {
            let available = self.fill()?;
            if available.is_empty() {
                if filled == 0 {
                    return Ok(None);
                }
                return Err(ArchiveError::TruncatedTar(format!(
                    "the tar stream ends at byte {} inside a header",
                    self.offset
                )));
            }
            let n = available.len().min(BLOCK - filled);
            block[filled..filled + n].copy_from_slice(&available[..n]);
            self.consume(n);
            filled += n;
        }
        Ok(Some(block))
    }

    fn fill(&mut self) -> Result<&[u8], ArchiveError> {
        // Retry interruptions first; the second `fill_buf` returns what the
        // first one buffered (a borrow returned from a loop would not compile).
        loop {
            match self.src.fill_buf() {
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(ArchiveError::Compression(e)),
            }
        }
        self.src.fill_buf().map_err(ArchiveError::Compression)
    }

    fn consume(&mut self, n: usize) {
        self.src.consume(n);
        self.offset += n as u64;
    }
}

/// Verifies the magic and the checksum of a header block.
fn check_header(block: &[u8; BLOCK], at: u64) -> Result<(), ArchiveError> {
    if &block[257..262] != b"ustar" {
        return Err(ArchiveError::CorruptTar(format!(
            "the header at byte {at} is not a ustar header"
        )));
    }
    let recorded = octal(&block[148..156], "checksum", at)?;
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(b)
            }
        })
        .sum();
    if sum != recorded {
        return Err(ArchiveError::CorruptTar(format!(
            "the header at byte {at} has a wrong checksum"
        )));
    }
    Ok(())
}

/// The ustar path: `prefix/name`, or `name` when the prefix is empty.
fn ustar_name(block: &[u8; BLOCK]) -> Vec<u8> {
    let name = cstr(&block[0..100]);
    let prefix = cstr(&block[345..500]);
    if prefix.is_empty() {
        name.to_vec()
    } else {
        [prefix, b"/", name].concat()
    }
}

/// The bytes of a NUL-terminated field.
fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// An octal numeric field (spaces and NUL around the digits allowed).
fn octal(field: &[u8], what: &str, at: u64) -> Result<u64, ArchiveError> {
    let bad = || {
        ArchiveError::CorruptTar(format!(
            "the header at byte {at} has a malformed {what} field"
        ))
    };
    let text = std::str::from_utf8(cstr(field))
        .map_err(|_| bad())?
        .trim_matches(' ');
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| bad())
}

/// Parses `"<len> key=value\n"` records, keeping `path`, `linkpath` and `size`.
fn parse_pax(mut data: &[u8], at: u64) -> Result<Pax, ArchiveError> {
    let bad = || ArchiveError::CorruptTar(format!("the PAX header at byte {at} is malformed"));
    let mut pax = Pax::default();
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ').ok_or_else(bad)?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(bad());
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(bad)?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" => pax.path = Some(value.to_vec()),
            b"linkpath" => pax.linkpath = Some(value.to_vec()),
            b"size" => {
                let size = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok());
                pax.size = Some(size.ok_or_else(bad)?);
            }
            _ => {}
        }
        data = &data[len..];
    }
    Ok(pax)
}
