//! `bale export apk`: an Alpine package (apk v2), `<name>-<version>-r0.apk`,
//! signed RSA-SHA256 (docs/exports.md).
//!
//! An apk v2 is three gzip streams, one after the other, that apk reads as
//! one tar stream: the signature (`.SIGN.RSA256.<key name>`, over the
//! control stream's compressed bytes), the control (`.PKGINFO`, whose
//! `datahash` is the sha256 of the data stream's compressed bytes) and the
//! data (the files, under `/opt/bale/<group as path>/<name>/<version>/`).
//! Only the data segment ends its tar (abuild-tar `--cut`). Everything is a
//! function of the package and the key, so the same inputs give the same
//! bytes: PKCS#1 v1.5 signatures are deterministic.

mod epoch;
mod linkage;
mod pkginfo;
mod signing;
mod tar;

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bale_archive::EntryType;
use bale_coordinate::Coordinate;
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::{ExportError, Package, Written};
use pkginfo::PkgInfo;
use signing::SigningKey;

/// How to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory to write the `.apk` into.
    pub out: PathBuf,
    /// The RSA private key (PEM) that signs it.
    pub key: PathBuf,
}

/// Writes `<name>-<version>-r0.apk` and the public key apk verifies it with
/// (`<key name>.rsa.pub`, for `/etc/apk/keys/`) into `options.out`, and
/// returns both.
pub fn export(package: &Package, options: &Options) -> Result<Vec<Written>, ExportError> {
    let key = SigningKey::read(&options.key)?;
    let index = package.index();
    let coordinate: Coordinate = index
        .coordinate
        .parse()
        .map_err(|e| ExportError::Refused(format!("{}: {e}", package.file().display())))?;
    refuse_debian_dependencies(package)?;
    let depends = linkage::alpine_depends(index)?;
    let arch = pkginfo::alpine_arch(index.arch())?;
    let version = pkginfo::alpine_version(coordinate.version())?;
    let mtime = epoch::source_date_epoch(package.file())?;

    let out = &options.out;
    fs::create_dir_all(out).map_err(|e| ExportError::io(out, e))?;
    let prefix = format!("opt/bale/{}", coordinate.relative_dir());
    let (data, data_hash) = write_data(package, &prefix, mtime, out)?;

    let meta = &package.manifest().package;
    let info = PkgInfo {
        name: coordinate.name().to_owned(),
        version: version.clone(),
        description: meta
            .description
            .clone()
            .unwrap_or_else(|| coordinate.to_string()),
        url: meta.homepage.clone(),
        build_date: mtime,
        size: index.installed_size,
        arch: arch.to_owned(),
        origin: coordinate.name().to_owned(),
        commit: index.source.commit.clone(),
        maintainer: meta.maintainer.clone(),
        license: meta.license.clone(),
        depends,
        data_hash,
    };
    let control = gzip_segment(".PKGINFO", &info.render(), mtime)?;
    let signature = key.sign(&control)?;
    let signature = gzip_segment(
        &format!(".SIGN.RSA256.{}", key.public_name()),
        &signature,
        mtime,
    )?;

    let apk_path = out.join(format!("{}-{version}.apk", coordinate.name()));
    let mut apk = Vec::with_capacity(signature.len() + control.len());
    apk.extend_from_slice(&signature);
    apk.extend_from_slice(&control);
    let apk_written = write_file(&apk_path, &apk, Some(data))?;
    let public = out.join(key.public_name());
    let public_written = write_file(&public, key.public_pem()?.as_bytes(), None)?;
    Ok(vec![apk_written, public_written])
}

/// Refuses a package that needs Debian packages at run time: an Alpine
/// package cannot name them, and their Alpine names are not known.
fn refuse_debian_dependencies(package: &Package) -> Result<(), ExportError> {
    let runtime = &package.index().dependencies.runtime;
    if runtime.is_empty() {
        return Ok(());
    }
    Err(ExportError::Refused(format!(
        "the package needs Debian packages at run time ({}), which an Alpine package \
         cannot name; ship what they provide inside the package, or export it as a \
         Debian package or an OCI image instead",
        runtime.join(", ")
    )))
}

/// Writes the data segment (the tar of the files under `prefix`, gzip) to a
/// temporary file in `out`, and returns it with the hex sha256 of its bytes.
fn write_data(
    package: &Package,
    prefix: &str,
    mtime: u64,
    out: &Path,
) -> Result<(tempfile::NamedTempFile, String), ExportError> {
    let temp = tempfile::Builder::new()
        .prefix(".bale-apk-data-")
        .tempfile_in(out)
        .map_err(|e| ExportError::io(out, e))?;
    let file = temp
        .as_file()
        .try_clone()
        .map_err(|e| ExportError::io(temp.path(), e))?;
    let hashing = HashingWriter {
        inner: BufWriter::new(file),
        hasher: Sha256::new(),
    };
    let mut gz = gzip(hashing);
    let failed = |e| ExportError::io(temp.path(), e);

    // The directories that lead to the prefix, so that apk owns and removes them.
    let mut dir = String::new();
    for part in prefix.split('/') {
        dir.push_str(part);
        dir.push('/');
        let entry = tar::Entry {
            name: &dir,
            kind: tar::Kind::Dir,
            mode: 0o755,
            mtime,
            link: "",
        };
        tar::write_header(&mut gz, &entry).map_err(failed)?;
    }
    for record in &package.index().files {
        let name = format!("{prefix}/{}", record.path);
        match record.entry_type {
            EntryType::Dir => {
                let name = format!("{name}/");
                let entry = tar::Entry {
                    name: &name,
                    kind: tar::Kind::Dir,
                    mode: 0o755,
                    mtime,
                    link: "",
                };
                tar::write_header(&mut gz, &entry).map_err(failed)?;
            }
            EntryType::Symlink => {
                let entry = tar::Entry {
                    name: &name,
                    kind: tar::Kind::Symlink,
                    mode: 0o777,
                    mtime,
                    link: record.target.as_deref().unwrap_or(""),
                };
                tar::write_header(&mut gz, &entry).map_err(failed)?;
            }
            EntryType::File => {
                let path = package.root().join(&record.path);
                let size = record.size.unwrap_or(0);
                let sha1 = sha1_of(&path, size)?;
                let entry = tar::Entry {
                    name: &name,
                    kind: tar::Kind::File {
                        size,
                        sha1: Some(sha1),
                    },
                    mode: record.mode.unwrap_or(0o644),
                    mtime,
                    link: "",
                };
                tar::write_header(&mut gz, &entry).map_err(failed)?;
                copy_exactly(&path, size, &mut gz)?;
                tar::pad(&mut gz, size).map_err(failed)?;
            }
        }
    }
    tar::write_end(&mut gz).map_err(failed)?;
    let mut hashing = gz.finish().map_err(failed)?;
    hashing.inner.flush().map_err(failed)?;
    let hash = tar::hex(&hashing.hasher.finalize());
    Ok((temp, hash))
}

/// One gzip stream holding a tar of one file (`.PKGINFO`, `.SIGN.…`), with
/// no end-of-archive marker: more segments follow it.
fn gzip_segment(name: &str, content: &[u8], mtime: u64) -> Result<Vec<u8>, ExportError> {
    let fail = |e: io::Error| ExportError::Refused(format!("cannot compress {name}: {e}"));
    let mut gz = gzip(Vec::new());
    let entry = tar::Entry {
        name,
        kind: tar::Kind::File {
            size: content.len() as u64,
            sha1: None,
        },
        mode: 0o644,
        mtime,
        link: "",
    };
    tar::write_header(&mut gz, &entry).map_err(fail)?;
    gz.write_all(content).map_err(fail)?;
    tar::pad(&mut gz, content.len() as u64).map_err(fail)?;
    gz.finish().map_err(fail)
}

/// A gzip encoder whose header holds nothing about this machine or moment
/// (no name, mtime 0), at gzip's best level, as abuild's `gzip -n -9`.
fn gzip<W: Write>(out: W) -> GzEncoder<W> {
    GzBuilder::new().mtime(0).write(out, Compression::best())
}

/// The SHA-1 of the package file at `path`, which must be `size` bytes.
fn sha1_of(path: &Path, size: u64) -> Result<[u8; 20], ExportError> {
    let mut hasher = Sha1::new();
    copy_exactly(path, size, &mut DigestWriter(&mut hasher))?;
    Ok(hasher.finalize().into())
}

/// Copies the `size` bytes of the package file at `path` to `out`, refusing
/// a file that is not what the index says (a symlink, another size).
fn copy_exactly(path: &Path, size: u64, out: &mut impl Write) -> Result<(), ExportError> {
    let file = fs::OpenOptions::new()
        .read(true)
        // A package file is never read through a symlink.
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| ExportError::io(path, e))?;
    let copied = io::copy(&mut file.take(size + 1), out).map_err(|e| ExportError::io(path, e))?;
    if copied != size {
        return Err(ExportError::io(
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("holds {copied} bytes where the index says {size}"),
            ),
        ));
    }
    Ok(())
}

/// Writes `head`, then the rest of `tail` if any, to a temporary file
/// beside `path`, mode 0644, and renames it into place: a half-written
/// export is never visible under the final name.
fn write_file(
    path: &Path,
    head: &[u8],
    tail: Option<tempfile::NamedTempFile>,
) -> Result<Written, ExportError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".bale-apk-")
        .tempfile_in(dir)
        .map_err(|e| ExportError::io(dir, e))?;
    let failed = |e| ExportError::io(path, e);
    let mut hasher = Sha256::new();
    let mut size = head.len() as u64;
    hasher.update(head);
    {
        let mut writer = BufWriter::new(temp.as_file_mut());
        writer.write_all(head).map_err(failed)?;
        if let Some(tail) = tail {
            let mut input = File::open(tail.path()).map_err(|e| ExportError::io(tail.path(), e))?;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = input
                    .read(&mut buf)
                    .map_err(|e| ExportError::io(tail.path(), e))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                writer.write_all(&buf[..n]).map_err(failed)?;
                size += n as u64;
            }
        }
        writer.flush().map_err(failed)?;
    }
    temp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(failed)?;
    temp.persist(path)
        .map_err(|e| ExportError::io(path, e.error))?;
    Ok(Written {
        path: path.to_path_buf(),
        digest: format!("sha256:{}", tar::hex(&hasher.finalize())),
        size,
    })
}

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A writer that only feeds a digest.
struct DigestWriter<'a, D>(&'a mut D);

impl<D: Digest> Write for DigestWriter<'_, D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
