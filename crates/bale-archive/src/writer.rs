//! The second pass of packing: the tar stream, built on a reading thread,
//! compressed by zstd's workers fed from the caller's, and written and
//! hashed on a writing thread.

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::mpsc;

use bale_coordinate::Coordinate;
use sha2::{Digest, Sha256};

use crate::index::{Dependencies, EntryType, FileRecord, Index, SourceRef, StackRef, FORMAT};
use crate::tar_header::{self, EntryHeader, Kind};
use crate::tree::{read_full, PackageTree, Stamp};
use crate::{paths, ArchiveError};

/// The zstd level every package is compressed at.
pub const ZSTD_LEVEL: i32 = 3;

/// Size of the tar chunks handed from the reading thread to the compressor.
const CHUNK: usize = 4 << 20;
/// Chunks in flight: enough to keep zstd busy while a large file is read.
const CHUNKS_IN_FLIGHT: usize = 4;
/// Size of the compressed buffers handed to the writing thread.
const OUTPUT_BUFFER: usize = 1 << 20;
/// Compressed buffers in flight: enough to ride out a slow disk write.
const OUTPUT_IN_FLIGHT: usize = 32;

/// What the package says about itself besides its files.
#[derive(Debug, Clone)]
pub struct PackMeta {
    /// The package's coordinate.
    pub coordinate: Coordinate,
    /// The architecture recorded in the index (`amd64`, `arm64`, `all`), if known.
    pub arch: Option<String>,
    /// The stack it was built on.
    pub stack: StackRef,
    /// Declared and detected run-time dependencies.
    pub dependencies: Dependencies,
    /// Where the source came from.
    pub source: SourceRef,
    /// Every entry's mtime: `SOURCE_DATE_EPOCH` (the source commit's time, or 0).
    pub mtime: u64,
}

/// What [`PackageTree::write`] produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// The index written as `.bale/index.json`.
    pub index: Index,
    /// Lower-case hex sha256 of the archive bytes.
    pub sha256: String,
    /// Size of the archive in bytes.
    pub size: u64,
}

/// The zstd worker count. Any count from 1 up gives the same bytes (pinned
/// by a test); 0 would be zstd's single-threaded mode, whose framing differs.
pub(crate) fn zstd_workers() -> u32 {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 64) as u32
}

/// A zstd encoder at the package level, with a content checksum, over `out`.
pub(crate) fn encoder<W: Write>(out: W, workers: u32) -> io::Result<zstd::Encoder<'static, W>> {
    let mut encoder = zstd::Encoder::new(out, ZSTD_LEVEL)?;
    encoder.include_checksum(true)?;
    encoder.multithread(workers.max(1))?;
    Ok(encoder)
}

impl PackageTree {
    /// Writes the package: `.bale/`, `.bale/index.json`, `.bale/manifest.toml`,
    /// then every entry in path order, as a zstd-compressed tar, to `out`.
    ///
    /// The same tree, manifest and meta always give the same bytes.
    pub fn write(
        &self,
        meta: &PackMeta,
        manifest_toml: &[u8],
        out: impl Write + Send,
    ) -> Result<Written, ArchiveError> {
        let index = Index {
            format: FORMAT,
            coordinate: meta.coordinate.to_string(),
            arch: meta.arch.clone(),
            stack: meta.stack.clone(),
            dependencies: meta.dependencies.clone(),
            source: meta.source.clone(),
            files: self.records().to_vec(),
            installed_size: self.installed_size(),
        };
        let index_json = index.to_json()?;
        let mut head = Vec::with_capacity(index_json.len() + manifest_toml.len() + 8 * 512);
        let mtime = meta.mtime;
        append_dir(&mut head, paths::BALE_DIR, mtime);
        append_file(&mut head, paths::INDEX_PATH, &index_json, mtime);
        append_file(&mut head, paths::MANIFEST_PATH, manifest_toml, mtime);

        let (output_tx, output_rx) = mpsc::sync_channel::<Vec<u8>>(OUTPUT_IN_FLIGHT);
        let (output_free_tx, output_free_rx) = mpsc::channel::<Vec<u8>>();
        std::thread::scope(|scope| {
            // Writing, hashing and syncing the compressed bytes happen on
            // their own thread, so the compressor never waits for the disk.
            let writer = scope.spawn(move || {
                let mut counted = CountingWriter {
                    inner: out,
                    sha256: Sha256::new(),
                    size: 0,
                };
                for buf in output_rx.iter() {
                    counted.write_all(&buf)?;
                    let _ = output_free_tx.send(buf);
                }
                counted.flush()?;
                Ok::<_, io::Error>(counted)
            });
            let pipe = OutputPipe {
                full: output_tx,
                free: output_free_rx,
                buf: Vec::with_capacity(OUTPUT_BUFFER),
            };
            let compressed = self.compress(&head, mtime, pipe);
            // The pipe is gone by now, so the writing thread ends.
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the writing thread panicked")));
            match (compressed, written) {
                // A write error explains a compression that stopped short.
                (_, Err(e)) => Err(ArchiveError::Output(e)),
                (Err(e), Ok(_)) => Err(e),
                (Ok(()), Ok(counted)) => Ok(Written {
                    index,
                    sha256: hex::encode(counted.sha256.finalize()),
                    size: counted.size,
                }),
            }
        })
    }

    /// Compresses `head`, then every entry read on a thread of its own, into `pipe`.
    fn compress(&self, head: &[u8], mtime: u64, pipe: OutputPipe) -> Result<(), ArchiveError> {
        let mut zstd = encoder(pipe, zstd_workers()).map_err(ArchiveError::Output)?;
        zstd.write_all(head).map_err(ArchiveError::Output)?;
        let (full_tx, full_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(CHUNKS_IN_FLIGHT);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
        let mut output_error = None;
        let read_result = std::thread::scope(|scope| {
            let reader = scope.spawn(move || {
                let mut stream = ChunkedStream {
                    full: full_tx,
                    empty: empty_rx,
                    buf: Vec::new(),
                    len: 0,
                };
                stream.fresh();
                let result = self.stream_entries(mtime, &mut stream);
                if result.is_ok() {
                    stream.flush();
                }
                result
            });
            for (chunk, len) in full_rx.iter() {
                if let Err(e) = zstd.write_all(&chunk[..len]) {
                    output_error = Some(e);
                    break;
                }
                let _ = empty_tx.send(chunk);
            }
            // Dropping the receiver stops the reader if the output failed.
            drop(full_rx);
            reader
                .join()
                .unwrap_or(Err(ArchiveError::Output(io::Error::other(
                    "the reading thread panicked",
                ))))
        });
        if let Some(e) = output_error {
            return Err(ArchiveError::Output(e));
        }
        read_result?;
        let mut pipe = zstd.finish().map_err(ArchiveError::Output)?;
        pipe.send().map_err(ArchiveError::Output)
    }

    /// Appends every entry's headers and content to `stream`, then the end marker.
    fn stream_entries(&self, mtime: u64, stream: &mut ChunkedStream) -> Result<(), ArchiveError> {
        let mut header = Vec::with_capacity(2048);
        for ((record, stamp), kept) in self.records().iter().zip(self.stamps()).zip(self.kept()) {
            header.clear();
            match record.entry_type {
                EntryType::Dir => append_dir(&mut header, &record.path, mtime),
                EntryType::Symlink => tar_header::append(
                    &mut header,
                    &EntryHeader {
                        name: &record.path,
                        kind: Kind::Symlink,
                        mode: 0o777,
                        size: 0,
                        mtime,
                        link: record.target.as_deref().unwrap_or(""),
                    },
                ),
                EntryType::File => {
                    let Some(stamp) = stamp else {
                        return Err(ArchiveError::ChangedWhilePacking {
                            path: record.path.clone(),
                        });
                    };
                    tar_header::append(
                        &mut header,
                        &EntryHeader {
                            name: &record.path,
                            kind: Kind::File,
                            mode: record.mode.unwrap_or(0o644),
                            size: stamp.size,
                            mtime,
                            link: "",
                        },
                    );
                    if !stream.put(&header) {
                        return Ok(());
                    }
                    header.clear();
                    if !self.stream_file(record, stamp, kept.as_deref(), stream)? {
                        return Ok(());
                    }
                    continue;
                }
            }
            if !stream.put(&header) {
                return Ok(());
            }
        }
        header.clear();
        tar_header::append_end(&mut header);
        stream.put(&header);
        Ok(())
    }

    /// Puts one file into the chunks, from memory when `kept` holds it, else
    /// read straight from disk; `false` when the compressor is gone.
    fn stream_file(
        &self,
        record: &FileRecord,
        stamp: &Stamp,
        kept: Option<&[u8]>,
        stream: &mut ChunkedStream,
    ) -> Result<bool, ArchiveError> {
        if let Some(content) = kept {
            let pad = tar_header::padding(stamp.size);
            return Ok(stream.put(content) && stream.put(&[0u8; tar_header::BLOCK][..pad]));
        }
        let path = self.root().join(&record.path);
        let io = |e| ArchiveError::io(&path, e);
        let mut file = File::open(&path).map_err(io)?;
        if Stamp::of(&file.metadata().map_err(io)?) != *stamp {
            return Err(ArchiveError::ChangedWhilePacking {
                path: record.path.clone(),
            });
        }
        let mut remaining = stamp.size;
        while remaining > 0 {
            let space = stream.space();
            let want = remaining.min(space.len() as u64) as usize;
            let n = read_full(&mut file, &mut space[..want]).map_err(io)?;
            if n < want {
                return Err(ArchiveError::ChangedWhilePacking {
                    path: record.path.clone(),
                });
            }
            remaining -= n as u64;
            if !stream.advance(n) {
                return Ok(false);
            }
        }
        let pad = tar_header::padding(stamp.size);
        Ok(stream.put(&[0u8; tar_header::BLOCK][..pad]))
    }
}

/// Appends a directory entry (`name/`, 0755).
fn append_dir(out: &mut Vec<u8>, path: &str, mtime: u64) {
    let name = format!("{path}/");
    let entry = EntryHeader {
        name: &name,
        kind: Kind::Dir,
        mode: 0o755,
        size: 0,
        mtime,
        link: "",
    };
    tar_header::append(out, &entry);
}

/// Appends a 0644 file held in memory.
fn append_file(out: &mut Vec<u8>, path: &str, content: &[u8], mtime: u64) {
    let size = content.len() as u64;
    let entry = EntryHeader {
        name: path,
        kind: Kind::File,
        mode: 0o644,
        size,
        mtime,
        link: "",
    };
    tar_header::append(out, &entry);
    out.extend_from_slice(content);
    out.resize(out.len() + tar_header::padding(size), 0);
}

/// The tar stream cut into fixed-size chunks sent to the compressing thread;
/// chunks come back through `empty` to be reused.
struct ChunkedStream {
    full: mpsc::SyncSender<(Vec<u8>, usize)>,
    empty: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    len: usize,
}

impl ChunkedStream {
    fn fresh(&mut self) {
        self.buf = self.empty.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
        self.len = 0;
    }

    /// The free part of the current chunk (never empty).
    fn space(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// Marks `n` bytes of [`Self::space`] filled; `false` when the compressor is gone.
    fn advance(&mut self, n: usize) -> bool {
        self.len += n;
        if self.len == self.buf.len() {
            return self.flush();
        }
        true
    }

    /// Copies `bytes` in; `false` when the compressor is gone.
    fn put(&mut self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            let space = self.space();
            let n = space.len().min(bytes.len());
            space[..n].copy_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if !self.advance(n) {
                return false;
            }
        }
        true
    }

    /// Sends the current chunk if it holds anything.
    fn flush(&mut self) -> bool {
        if self.len == 0 {
            return true;
        }
        let chunk = std::mem::take(&mut self.buf);
        if self.full.send((chunk, self.len)).is_err() {
            return false;
        }
        self.fresh();
        true
    }
}

/// The compressor's output, gathered into buffers sent to the writing thread;
/// buffers come back through `free` to be reused.
struct OutputPipe {
    full: mpsc::SyncSender<Vec<u8>>,
    free: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
}

impl OutputPipe {
    /// Sends the current buffer if it holds anything.
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut next = self
            .free
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(OUTPUT_BUFFER));
        next.clear();
        let full = std::mem::replace(&mut self.buf, next);
        // The writing thread only goes away after a write error, which it reports.
        self.full
            .send(full)
            .map_err(|_| io::Error::other("the package file could not be written"))
    }
}

impl Write for OutputPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(OUTPUT_BUFFER - self.buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        if self.buf.len() == OUTPUT_BUFFER {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Passes bytes through while hashing and counting them.
struct CountingWriter<W> {
    inner: W,
    sha256: Sha256,
    size: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Compresses `input` as packages are compressed, with `workers` zstd
/// workers; for tests and benchmarks comparing worker counts.
#[doc(hidden)]
pub fn compress_with_workers(
    mut input: impl Read,
    out: impl Write,
    workers: u32,
) -> io::Result<()> {
    let mut zstd = encoder(out, workers)?;
    io::copy(&mut input, &mut zstd)?;
    zstd.finish()?;
    Ok(())
}
