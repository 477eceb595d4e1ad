//! Where package files are kept: a local directory or an S3-compatible bucket.
//!
//! Every write is atomic for readers: the local store writes an unnamed file
//! and links it into place (nothing is left behind when the process is
//! killed), S3 makes an object visible only once its upload completes.
//! Reads stream; nothing buffers a whole archive.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::inline_cache::InlineCache;
use crate::RepoError;

/// Objects up to this size are written in one request; larger ones in parts.
const SINGLE_PUT_MAX: u64 = 16 << 20;
/// The part size of multipart writes (S3 needs at least 5 MiB).
const PART_SIZE: usize = 8 << 20;
/// Local files up to this size are read whole when opened.
const INLINE_MAX: u64 = 256 << 10;
/// Read buffer when streaming a local file to a client.
const STREAM_CHUNK: usize = 256 << 10;

/// A stream of an object's bytes.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// What is known about a stored object without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// The store's entity tag, without quotes.
    pub e_tag: Option<String>,
    /// When it was written.
    pub last_modified: SystemTime,
}

/// An object opened by [`Storage::open_object`], ready to stream.
#[derive(Debug)]
pub struct OpenObject {
    /// Its size, tag and time.
    pub info: ObjectInfo,
    key: String,
    content: Content,
}

impl OpenObject {
    /// The bytes of `range` when the object was read whole on opening
    /// (small local files); `None` when they have to be streamed.
    pub fn inline(&self, range: Range<u64>) -> Option<Bytes> {
        let Content::Inline(bytes) = &self.content else {
            return None;
        };
        let (start, end) = (
            range.start.min(self.info.size) as usize,
            range.end.min(self.info.size) as usize,
        );
        Some(bytes.slice(start..end.max(start)))
    }
}

/// Where an opened object's bytes come from.
#[derive(Debug)]
enum Content {
    /// Read whole already (small local files).
    Inline(Bytes),
    /// An open local file, streamed in chunks.
    File(std::fs::File),
    /// Fetched from the object store when streamed.
    Remote,
}

/// The repository's object store.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    local: Option<Arc<LocalFileSystem>>,
    local_dir: Option<PathBuf>,
    /// The canonical directory the local store resolves keys under.
    local_root: Option<PathBuf>,
    /// Small local files served from memory while they are unchanged on disk.
    inline_cache: Arc<InlineCache>,
    prefix: Option<String>,
    description: String,
}

impl Storage {
    /// Opens storage from a URL: a directory path, `file:///dir`, or
    /// `s3://bucket[/prefix]?endpoint=…&region=…`.
    ///
    /// S3 settings come from the URL's query, then `options`, then the
    /// usual `AWS_*` environment variables.
    pub fn open(url: &str, options: &[(String, String)]) -> Result<Storage, RepoError> {
        if let Some(rest) = url.strip_prefix("s3://") {
            return Self::s3(url, rest, options);
        }
        let dir = match url.strip_prefix("file://") {
            Some(path) => PathBuf::from(path),
            None if url.contains("://") => return Err(RepoError::StorageUrl(url.to_owned())),
            None => PathBuf::from(url),
        };
        Self::local(&dir)
    }

    /// Storage in a local directory, created when missing.
    pub fn local(dir: &Path) -> Result<Storage, RepoError> {
        std::fs::create_dir_all(dir).map_err(|e| RepoError::io(dir, e))?;
        let fs = LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| RepoError::storage(dir.display().to_string(), e))?;
        let fs = Arc::new(fs);
        let root = std::fs::canonicalize(dir).map_err(|e| RepoError::io(dir, e))?;
        Ok(Storage {
            store: fs.clone(),
            local: Some(fs),
            local_dir: Some(dir.to_path_buf()),
            local_root: Some(root),
            inline_cache: Arc::default(),
            prefix: None,
            description: dir.display().to_string(),
        })
    }

    fn s3(url: &str, rest: &str, options: &[(String, String)]) -> Result<Storage, RepoError> {
        let parsed = url::Url::parse(url).map_err(|_| RepoError::StorageUrl(url.to_owned()))?;
        let (bucket_and_prefix, _) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = bucket_and_prefix
            .split_once('/')
            .unwrap_or((bucket_and_prefix, ""));
        if bucket.is_empty() {
            return Err(RepoError::StorageUrl(url.to_owned()));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        let mut endpoint_is_http = false;
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .chain(options.iter().cloned())
            .collect();
        for (key, value) in pairs {
            let config: AmazonS3ConfigKey = key
                .parse()
                .map_err(|_| RepoError::StorageUrl(format!("{url}: unknown S3 setting `{key}`")))?;
            if matches!(config, AmazonS3ConfigKey::Endpoint) && value.starts_with("http://") {
                endpoint_is_http = true;
            }
            builder = builder.with_config(config, value);
        }
        if endpoint_is_http {
            builder = builder.with_allow_http(true);
        }
        let store = builder
            .build()
            .map_err(|e| RepoError::storage(url.to_owned(), e))?;
        let prefix = prefix.trim_matches('/');
        Ok(Storage {
            store: Arc::new(store),
            local: None,
            local_dir: None,
            local_root: None,
            inline_cache: Arc::default(),
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            description: format!("s3://{bucket_and_prefix}"),
        })
    }

    /// A human-readable name for messages and logs.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The directory on disk, for local storage.
    pub fn local_dir(&self) -> Option<PathBuf> {
        self.local_dir.clone()
    }

    /// The object path of a key, kept verbatim (`Path::from` would escape `~`,
    /// and the file on disk would no longer match its URL on a static mirror).
    fn location(&self, key: &str) -> Result<ObjectPath, RepoError> {
        let full = match &self.prefix {
            Some(prefix) => format!("{prefix}/{key}"),
            None => key.to_owned(),
        };
        ObjectPath::parse(&full).map_err(|e| RepoError::storage(key, e.into()))
    }

    /// Size, tag and time of an object, or `None` when it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, RepoError> {
        match self.store.head(&self.location(key)?).await {
            Ok(meta) => Ok(Some(ObjectInfo {
                size: meta.size,
                e_tag: meta.e_tag.map(|t| t.trim_matches('"').to_owned()),
                last_modified: UNIX_EPOCH
                    + Duration::from_secs(meta.last_modified.timestamp().max(0) as u64),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(RepoError::storage(key, e)),
        }
    }

    /// Opens an object for serving: its facts and, on local disk, its bytes
    /// (small files) or the open file; `None` when it does not exist.
    ///
    /// On local disk this runs on the calling thread: a stat, and for a file
    /// not in the inline cache an open, a stat and a read of at most 256 KiB,
    /// mostly from the page cache. Handing that to the blocking pool costs
    /// more than the work itself and would hold `bale serve` well below a
    /// static web server on small files.
    pub async fn open_object(&self, key: &str) -> Result<Option<OpenObject>, RepoError> {
        let Some(root) = &self.local_root else {
            return Ok(self.head(key).await?.map(|info| OpenObject {
                info,
                key: key.to_owned(),
                content: Content::Remote,
            }));
        };
        // The key is checked as an object path, then joined under the root as
        // the local store does, without its detour through a `file://` URL.
        let path = root.join(self.location(key)?.as_ref());
        let meta = match std::fs::metadata(&path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RepoError::io(&path, e)),
        };
        if !meta.is_file() {
            return Ok(None);
        }
        if let Some(bytes) = self.inline_cache.get(&path, &meta) {
            return Ok(Some(OpenObject {
                info: local_info(&meta),
                key: key.to_owned(),
                content: Content::Inline(bytes),
            }));
        }
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(RepoError::io(&path, e)),
        };
        // The file opened may be a newer one than the one just stat'ed.
        let meta = file.metadata().map_err(|e| RepoError::io(&path, e))?;
        if !meta.is_file() {
            return Ok(None);
        }
        let content = if meta.len() <= INLINE_MAX {
            let mut bytes = Vec::with_capacity(meta.len() as usize);
            std::io::Read::read_to_end(&mut std::io::Read::take(&file, INLINE_MAX), &mut bytes)
                .map_err(|e| RepoError::io(&path, e))?;
            if bytes.len() as u64 != meta.len() {
                return Err(RepoError::Internal(format!(
                    "{} changed size while being read",
                    path.display()
                )));
            }
            let bytes = Bytes::from(bytes);
            self.inline_cache.put(&path, &meta, bytes.clone());
            Content::Inline(bytes)
        } else {
            Content::File(file)
        };
        Ok(Some(OpenObject {
            info: local_info(&meta),
            key: key.to_owned(),
            content,
        }))
    }

    /// Streams `range` of an opened object.
    pub async fn stream(
        &self,
        object: OpenObject,
        range: Range<u64>,
    ) -> Result<Option<ByteStream>, RepoError> {
        let file = match object.content {
            Content::Remote => return self.read_range(&object.key, range).await,
            Content::Inline(bytes) => {
                let (start, end) = (
                    range.start.min(object.info.size) as usize,
                    range.end.min(object.info.size) as usize,
                );
                let part = bytes.slice(start..end.max(start));
                return Ok(Some(futures::stream::once(async move { Ok(part) }).boxed()));
            }
            Content::File(file) => file,
        };
        Ok(Some(stream_file(file, range)))
    }

    /// Streams `range` of an object; `None` when it does not exist.
    pub async fn read_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<Option<ByteStream>, RepoError> {
        let location = self.location(key)?;
        if let Some(fs) = &self.local {
            // Read the file directly with large buffers: this is the download hot path.
            let path = fs
                .path_to_filesystem(&location)
                .map_err(|e| RepoError::storage(key, e))?;
            let mut file = match tokio::fs::File::open(&path).await {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(RepoError::io(path, e)),
            };
            if range.start > 0 {
                file.seek(SeekFrom::Start(range.start))
                    .await
                    .map_err(|e| RepoError::io(&path, e))?;
            }
            let reader = file.take(range.end.saturating_sub(range.start));
            let stream = tokio_util::io::ReaderStream::with_capacity(reader, STREAM_CHUNK);
            return Ok(Some(stream.boxed()));
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        match self.store.get_opts(&location, options).await {
            Ok(result) => Ok(Some(
                result.into_stream().map_err(std::io::Error::other).boxed(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(RepoError::storage(key, e)),
        }
    }

    /// Reads a small object whole; `None` when it does not exist.
    pub async fn read_small(&self, key: &str) -> Result<Option<Bytes>, RepoError> {
        match self.store.get(&self.location(key)?).await {
            Ok(result) => result
                .bytes()
                .await
                .map(Some)
                .map_err(|e| RepoError::storage(key, e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(RepoError::storage(key, e)),
        }
    }

    /// Copies an object into a local file; `false` when it does not exist.
    pub async fn download(&self, key: &str, dest: &Path) -> Result<bool, RepoError> {
        let Some(info) = self.head(key).await? else {
            return Ok(false);
        };
        let Some(mut stream) = self.read_range(key, 0..info.size).await? else {
            return Ok(false);
        };
        let mut out = tokio::fs::File::create(dest)
            .await
            .map_err(|e| RepoError::io(dest, e))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| RepoError::io(dest, e))?;
            out.write_all(&chunk)
                .await
                .map_err(|e| RepoError::io(dest, e))?;
        }
        out.flush().await.map_err(|e| RepoError::io(dest, e))?;
        Ok(true)
    }

    /// Deletes an object; one that does not exist is no error.
    pub async fn delete(&self, key: &str) -> Result<(), RepoError> {
        match self.store.delete(&self.location(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(RepoError::storage(key, e)),
        }
    }

    /// Writes an object atomically from memory.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), RepoError> {
        let local = bytes.clone();
        if self
            .write_local(key, move || Ok(Box::new(std::io::Cursor::new(local))))
            .await?
        {
            return Ok(());
        }
        self.store
            .put(&self.location(key)?, PutPayload::from_bytes(bytes))
            .await
            .map_err(|e| RepoError::storage(key, e))?;
        self.sync_local(key).await
    }

    /// Writes an object atomically from a local file, in parts when it is large.
    pub async fn put_file(&self, key: &str, source: &Path) -> Result<(), RepoError> {
        let file = source.to_path_buf();
        if self
            .write_local(key, move || Ok(Box::new(std::fs::File::open(&file)?)))
            .await?
        {
            return Ok(());
        }
        let size = tokio::fs::metadata(source)
            .await
            .map_err(|e| RepoError::io(source, e))?
            .len();
        if size <= SINGLE_PUT_MAX {
            let bytes = tokio::fs::read(source)
                .await
                .map_err(|e| RepoError::io(source, e))?;
            return self.put_bytes(key, Bytes::from(bytes)).await;
        }
        let location = self.location(key)?;
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(|e| RepoError::storage(key, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut file = tokio::fs::File::open(source)
            .await
            .map_err(|e| RepoError::io(source, e))?;
        let mut buf = vec![0u8; PART_SIZE];
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(RepoError::io(source, e));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = writer.wait_for_capacity(4).await {
                return Err(RepoError::storage(key, e));
            }
            writer.write(&buf[..n]);
        }
        writer
            .finish()
            .await
            .map_err(|e| RepoError::storage(key, e))?;
        self.sync_local(key).await
    }

    /// Writes a local object from what `open` gives so that a process killed
    /// meanwhile leaves no file behind (see [`crate::local_write`]); `false`
    /// when the storage is not local or its file system cannot, and the
    /// object store has to write it.
    async fn write_local(
        &self,
        key: &str,
        open: impl FnOnce() -> std::io::Result<Box<dyn std::io::Read + Send>> + Send + 'static,
    ) -> Result<bool, RepoError> {
        let Some(fs) = &self.local else {
            return Ok(false);
        };
        let path = fs
            .path_to_filesystem(&self.location(key)?)
            .map_err(|e| RepoError::storage(key, e))?;
        tokio::task::spawn_blocking(move || {
            let mut source = open().map_err(|e| RepoError::io(&path, e))?;
            crate::local_write::write_object(&path, &mut source)
                .map(|written| written == crate::local_write::Written::Done)
                .map_err(|e| RepoError::io(&path, e))
        })
        .await
        .map_err(|e| RepoError::Internal(e.to_string()))?
    }

    /// Flushes a locally written object to disk, so a crash keeps it whole.
    async fn sync_local(&self, key: &str) -> Result<(), RepoError> {
        let Some(fs) = &self.local else { return Ok(()) };
        let path = fs
            .path_to_filesystem(&self.location(key)?)
            .map_err(|e| RepoError::storage(key, e))?;
        tokio::task::spawn_blocking(move || {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| RepoError::io(&path, e))?;
            if let Some(dir) = path.parent() {
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| RepoError::io(dir, e))?;
            }
            Ok(())
        })
        .await
        .map_err(|e| RepoError::Internal(e.to_string()))?
    }
}

/// Size, tag and time of a local file; the tag changes when the file is replaced or rewritten.
fn local_info(meta: &std::fs::Metadata) -> ObjectInfo {
    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let micros = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    ObjectInfo {
        size: meta.len(),
        e_tag: Some(format!(
            "{:x}-{micros:x}-{:x}",
            std::os::unix::fs::MetadataExt::ino(meta),
            meta.len()
        )),
        last_modified: modified,
    }
}

/// Streams part of a file: one blocking reader per response feeds chunks
/// through a short channel, so a download costs one thread hop, not one per chunk.
fn stream_file(mut file: std::fs::File, range: Range<u64>) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek};
        if range.start > 0 {
            if let Err(e) = file.seek(SeekFrom::Start(range.start)) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
        let mut left = range.end.saturating_sub(range.start);
        while left > 0 {
            let want = STREAM_CHUNK.min(left as usize);
            // Read into spare capacity: no zeroing of a buffer about to be overwritten.
            let mut buf = Vec::with_capacity(want);
            match (&mut file).take(want as u64).read_to_end(&mut buf) {
                Ok(0) => {
                    let _ = tx.blocking_send(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the file shrank while being served",
                    )));
                    return;
                }
                Ok(n) => {
                    left -= n as u64;
                    // The client went away: stop reading.
                    if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}
