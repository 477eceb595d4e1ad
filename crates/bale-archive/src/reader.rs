//! Reading packages: the index alone, a full verification, or an unpack.
//!
//! Decompression runs on the caller's thread; parsing, hashing and writing
//! on a second one, fed through a small ring of reused chunks.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc;

use crate::check::{self, NullSink, Sink};
use crate::disk::DiskSink;
use crate::index::Index;
use crate::tar_stream::TarStream;
use crate::tree::read_full;
use crate::{ArchiveError, Limits};

/// Decompressed bytes per chunk handed to the checking thread.
const CHUNK: usize = 1 << 20;
/// Chunks in flight between the two threads.
const CHUNKS_IN_FLIGHT: usize = 8;

/// How to unpack.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnpackOptions {
    /// Bounds on what the archive may expand to.
    pub limits: Limits,
    /// Make files read-only (0444, or 0555 for executables).
    pub read_only: bool,
    /// Make the unpacked tree durable before returning.
    pub sync: bool,
}

/// What [`unpack`] found.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// The package's index.
    pub index: Index,
    /// The bytes of `.bale/manifest.toml`.
    pub manifest_toml: Vec<u8>,
}

/// Reads only the leading `.bale/` entries: the index (checked for shape)
/// and the manifest's bytes. Nothing else is decompressed.
pub fn read_index(input: impl Read) -> Result<(Index, Vec<u8>), ArchiveError> {
    read_index_with(input, &Limits::default())
}

/// [`read_index`] with explicit limits.
pub fn read_index_with(
    input: impl Read,
    limits: &Limits,
) -> Result<(Index, Vec<u8>), ArchiveError> {
    let decoder = zstd::Decoder::new(input).map_err(ArchiveError::Compression)?;
    let mut tar = TarStream::new(BufReader::with_capacity(64 << 10, decoder), limits);
    check::read_head(&mut tar, limits, &mut NullSink)
}

/// Checks a whole package without writing anything: every entry against
/// the index, every refusal [`unpack`] makes.
pub fn verify(input: impl Read, limits: &Limits) -> Result<Index, ArchiveError> {
    run(input, limits, NullSink).map(|(index, _)| index)
}

/// Unpacks a package into `dest`, an empty directory the caller made and
/// discards on error, checking every entry against the index as it streams.
///
/// Nothing is written outside `dest`. On error `dest` may hold part of the
/// package; nothing in it is to be trusted.
pub fn unpack(
    input: impl Read,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<Unpacked, ArchiveError> {
    let mut listing = std::fs::read_dir(dest).map_err(|e| ArchiveError::io(dest, e))?;
    if listing.next().is_some() {
        return Err(ArchiveError::io(
            dest,
            io::Error::other("the destination must be an empty directory"),
        ));
    }
    let sink = DiskSink::new(dest, opts.read_only, opts.sync);
    let (index, manifest_toml) = run(input, &opts.limits, sink)?;
    Ok(Unpacked {
        index,
        manifest_toml,
    })
}

/// Decompresses `input` here while a second thread checks the stream into `sink`.
fn run<S: Sink + Send>(
    input: impl Read,
    limits: &Limits,
    mut sink: S,
) -> Result<(Index, Vec<u8>), ArchiveError> {
    let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(CHUNKS_IN_FLIGHT);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let checker = scope.spawn(move || {
            let chunks = ChunkReader {
                full: full_rx,
                empty: empty_tx,
                buf: Vec::new(),
                pos: 0,
                len: 0,
            };
            let mut tar = TarStream::new(chunks, limits);
            let (index, manifest) = check::read_head(&mut tar, limits, &mut sink)?;
            check::check_entries(&mut tar, &index, &mut sink)?;
            Ok((index, manifest))
        });
        let pumped = pump(input, limits, full_tx, empty_rx);
        let checked = checker.join().unwrap_or_else(|_| {
            Err(ArchiveError::CorruptTar(
                "the checking thread panicked".into(),
            ))
        });
        // A broken zstd stream or a passed limit explains whatever the
        // checker saw after it (a truncated tar), so it is reported first.
        pumped.and(checked)
    })
}

/// Decompresses into chunks until the end, a limit, or the checker stopping.
fn pump(
    input: impl Read,
    limits: &Limits,
    full: mpsc::SyncSender<(Vec<u8>, usize)>,
    empty: mpsc::Receiver<Vec<u8>>,
) -> Result<(), ArchiveError> {
    let mut decoder = zstd::Decoder::new(input).map_err(ArchiveError::Compression)?;
    let mut total: u64 = 0;
    loop {
        let mut chunk = empty.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
        let n = read_full(&mut decoder, &mut chunk).map_err(ArchiveError::Compression)?;
        if n == 0 {
            return Ok(());
        }
        total += n as u64;
        if total > limits.max_unpacked_bytes {
            return Err(ArchiveError::LimitExceeded {
                what: "unpacked bytes",
                limit: limits.max_unpacked_bytes,
            });
        }
        if full.send((chunk, n)).is_err() {
            // The checker stopped; its result says why.
            return Ok(());
        }
    }
}

/// The decompressed stream as a `BufRead` over received chunks.
struct ChunkReader {
    full: mpsc::Receiver<(Vec<u8>, usize)>,
    empty: mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.len {
            if !self.buf.is_empty() {
                let _ = self.empty.send(std::mem::take(&mut self.buf));
            }
            match self.full.recv() {
                Ok((buf, len)) => {
                    self.buf = buf;
                    self.pos = 0;
                    self.len = len;
                }
                // The decompressing side ended; it reports its own errors.
                Err(_) => return Ok(&[]),
            }
        }
        Ok(&self.buf[self.pos..self.len])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.len);
    }
}
