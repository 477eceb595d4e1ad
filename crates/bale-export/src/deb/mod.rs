//! `bale export deb`: a Debian package, `<name>_<version>_<arch>.deb`, that
//! `dpkg -i` installs on the stack's distribution (docs/exports.md,
//! "Debian package"). The package root goes under `/opt/bale/…` (its `etc/`
//! under `/etc/opt/bale/…`), hooks become maintainer scripts, services
//! systemd units.

mod archive;
mod control;
mod layout;
mod names;
mod scripts;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bale_archive::EntryType;
use bale_coordinate::Coordinate;
use bale_inspect::FileClass;
use md5::{Digest as _, Md5};
use sha2::Sha256;

use crate::{ExportError, Package, Written};
use archive::{ArWriter, TarWriter, XZ_PRESET};
use layout::Layout;

/// How to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The directory to write the `.deb` into.
    pub out: PathBuf,
}

/// Writes the export of `package` and returns what was written.
pub fn export(package: &Package, options: &Options) -> Result<Vec<Written>, ExportError> {
    let coordinate: Coordinate =
        package
            .index()
            .coordinate
            .parse()
            .map_err(|e| ExportError::Manifest {
                path: package.file().to_path_buf(),
                reason: format!("its coordinate: {e}"),
            })?;
    let layout = Layout::new(
        &coordinate,
        names::package_name(coordinate.name())?,
        names::version(coordinate.version())?,
    );
    let arch = architecture(package);
    let mtime = source_date_epoch(package.file())?;
    let tree = data_tree(package, &layout)?;

    std::fs::create_dir_all(&options.out).map_err(|e| ExportError::io(&options.out, e))?;
    let name = format!("{}_{}_{}.deb", layout.package, layout.version, arch);
    let target = options.out.join(&name);

    let mut data =
        tempfile::tempfile_in(&options.out).map_err(|e| ExportError::io(&options.out, e))?;
    let facts = write_data(&tree, mtime, &mut data).map_err(|e| ExportError::io(&target, e))?;

    let control = control::Control {
        layout: &layout,
        manifest: package.manifest(),
        index: package.index(),
        arch,
        installed_size: facts.installed_kib,
        sha256: package.sha256(),
    };
    let control_tar =
        write_control(&control, &tree, &facts, mtime).map_err(|e| ExportError::io(&target, e))?;

    let mut staged = tempfile::NamedTempFile::new_in(&options.out)
        .map_err(|e| ExportError::io(&options.out, e))?;
    write_deb(staged.as_file_mut(), mtime, &control_tar, &mut data)
        .map_err(|e| ExportError::io(&target, e))?;
    let (digest, size) =
        sha256_of(staged.as_file_mut()).map_err(|e| ExportError::io(&target, e))?;
    // A temporary file is private; the package is for everyone to read.
    staged
        .as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(|e| ExportError::io(&target, e))?;
    staged
        .persist(&target)
        .map_err(|e| ExportError::io(&target, e.error))?;
    Ok(vec![Written {
        path: target,
        digest: format!("sha256:{digest}"),
        size,
    }])
}

/// The package's Debian architecture: the one its index records, else
/// `all` when it ships no ELF file, else the architecture of packages
/// written before architectures were recorded.
fn architecture(package: &Package) -> &str {
    let index = package.index();
    match index.arch.as_deref() {
        Some(arch) => arch,
        None if index.files.iter().all(|f| f.elf.is_none()) => "all",
        None => index.arch(),
    }
}

/// The package's `SOURCE_DATE_EPOCH`: the mtime its writer gave every
/// entry, read from the first tar header (`.bale/`).
fn source_date_epoch(file: &Path) -> Result<u64, ExportError> {
    let input = File::open(file).map_err(|e| ExportError::io(file, e))?;
    let mut decoder =
        zstd::Decoder::new(BufReader::new(input)).map_err(|e| ExportError::io(file, e))?;
    let mut header = [0u8; 512];
    decoder
        .read_exact(&mut header)
        .map_err(|e| ExportError::io(file, e))?;
    let field = &header[136..148];
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0 && b != b' ')
        .map(|&b| b as char)
        .collect();
    u64::from_str_radix(text.trim_start_matches(' '), 8).map_err(|_| ExportError::Package {
        path: file.to_path_buf(),
        source: bale_archive::ArchiveError::CorruptTar(
            "the first entry's mtime is not an octal number".into(),
        ),
    })
}

/// One entry of `data.tar`.
enum Node {
    Dir,
    Symlink(String),
    /// A file of the package root, with its mode and size.
    Disk(PathBuf, u32, u64),
    /// A file the export makes, with its mode.
    Made(Vec<u8>, u32),
}

/// `data.tar`'s entries by path (no leading `/`), parents before children
/// as the path components sort.
struct DataTree {
    nodes: BTreeMap<Vec<String>, Node>,
    /// Absolute paths of the files dpkg treats as configuration.
    conffiles: Vec<String>,
}

impl DataTree {
    fn new() -> DataTree {
        DataTree {
            nodes: BTreeMap::new(),
            conffiles: Vec::new(),
        }
    }

    /// Adds `node` at absolute `path`, and every missing parent directory.
    fn add(&mut self, path: &str, node: Node) {
        let parts: Vec<String> = path
            .split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        for depth in 1..parts.len() {
            self.nodes
                .entry(parts[..depth].to_vec())
                .or_insert(Node::Dir);
        }
        self.nodes.insert(parts, node);
    }
}

/// Where every file goes: the package root under the prefix (its `etc/`
/// under `/etc/opt/…`, linked back), the units, service scripts, the
/// variables file and the documentation.
fn data_tree(package: &Package, layout: &Layout) -> Result<DataTree, ExportError> {
    let manifest = package.manifest();
    let mut tree = DataTree::new();
    tree.add(&layout.prefix, Node::Dir);
    let mut has_etc = false;
    for record in &package.index().files {
        // md5sums and conffiles are line-based, and dpkg takes no control
        // character in a path: a line break would add a line of the name's choosing.
        let link = record.target.as_deref().unwrap_or_default();
        if record
            .path
            .chars()
            .chain(link.chars())
            .any(char::is_control)
        {
            return Err(ExportError::Refused(format!(
                "{:?} has a control character in its path or link target, which a Debian \
                 package cannot hold; rename it in the build",
                record.path
            )));
        }
        let target = match record.path.strip_prefix("etc") {
            Some("") => {
                has_etc = true;
                layout.etc.clone()
            }
            Some(rest) if rest.starts_with('/') => format!("{}{rest}", layout.etc),
            _ => format!("{}/{}", layout.prefix, record.path),
        };
        let node = match record.entry_type {
            EntryType::Dir => Node::Dir,
            EntryType::Symlink => Node::Symlink(record.target.clone().unwrap_or_default()),
            EntryType::File => {
                if target.starts_with("/etc/") {
                    tree.conffiles.push(target.clone());
                }
                // Debian installs shared libraries without the execute bit
                // bale's packages give every ELF file; ld.so needs none.
                let mode = match record.class {
                    Some(FileClass::SharedLibrary) => 0o644,
                    _ => record.mode.unwrap_or(0o644),
                };
                Node::Disk(
                    package.root().join(&record.path),
                    mode,
                    record.size.unwrap_or(0),
                )
            }
        };
        tree.add(&target, node);
    }
    // Programs built with `--prefix=$BALE_PREFIX` find their libraries and
    // configuration at the build's prefix: a link from there keeps them working.
    tree.add(&layout.build_prefix, Node::Symlink(layout.prefix.clone()));
    if has_etc {
        tree.add(
            &format!("{}/etc", layout.prefix),
            Node::Symlink(layout.etc.clone()),
        );
    }

    tree.add(
        &layout.defaults,
        Node::Made(scripts::defaults_file(layout, manifest).into_bytes(), 0o644),
    );
    tree.conffiles.push(layout.defaults.clone());
    for (service, command) in manifest.services() {
        tree.add(
            &format!("{}/service-{service}", layout.libexec),
            Node::Made(
                scripts::service_script(layout, manifest, command).into_bytes(),
                0o755,
            ),
        );
        tree.add(
            &format!("/lib/systemd/system/{}", layout.unit(service)),
            Node::Made(scripts::unit(layout, manifest, service).into_bytes(), 0o644),
        );
    }

    tree.add(
        &format!("{}/copyright", layout.doc),
        Node::Made(copyright(package, layout).into_bytes(), 0o644),
    );
    let sbom = sbom_beside(package.file());
    if sbom.is_file() {
        let size = std::fs::metadata(&sbom)
            .map_err(|e| ExportError::io(&sbom, e))?
            .len();
        tree.add(
            &format!("{}/{}.spdx.json", layout.doc, layout.package),
            Node::Disk(sbom, 0o644, size),
        );
    }
    tree.conffiles.sort();
    Ok(tree)
}

/// `<file>.spdx.json` beside the package file.
fn sbom_beside(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".spdx.json");
    PathBuf::from(name)
}

/// `copyright`: the license the manifest declares and where the source is.
fn copyright(package: &Package, layout: &Layout) -> String {
    let manifest = package.manifest();
    let mut out = format!(
        "{coordinate}, exported from its bale package by bale export deb.\n\n",
        coordinate = layout.coordinate
    );
    let license = manifest
        .package
        .license
        .as_deref()
        .unwrap_or("not declared");
    out.push_str(&format!("License (SPDX expression): {license}\n"));
    if let Some(git) = package.index().source.git.as_deref() {
        out.push_str(&format!("Source: {git}\n"));
    }
    if let Some(commit) = package.index().source.commit.as_deref() {
        out.push_str(&format!("Commit: {commit}\n"));
    }
    out.push_str("\nThe copyright holders and license texts are those of the source.\n");
    out
}

/// What writing `data.tar` learnt.
struct DataFacts {
    /// `md5sums` lines by path, conffiles excluded.
    md5sums: Vec<(String, String)>,
    /// `Installed-Size`: each file's KiB rounded up, one per other entry.
    installed_kib: u64,
}

fn write_data(tree: &DataTree, mtime: u64, out: &mut File) -> std::io::Result<DataFacts> {
    let xz = xz2::write::XzEncoder::new(BufWriter::new(&mut *out), XZ_PRESET);
    let mut tar = TarWriter::new(xz, mtime);
    let mut facts = DataFacts {
        md5sums: Vec::new(),
        installed_kib: 0,
    };
    tar.dir(".", 0o755)?;
    for (parts, node) in &tree.nodes {
        let path = format!("./{}", parts.join("/"));
        let absolute = &path[1..];
        match node {
            Node::Dir => {
                tar.dir(&path, 0o755)?;
                facts.installed_kib += 1;
            }
            Node::Symlink(target) => {
                tar.symlink(&path, target)?;
                facts.installed_kib += 1;
            }
            Node::Disk(source, mode, size) => {
                let file = File::open(source)?;
                let mut hashing = Md5Reader::new(BufReader::new(file));
                tar.file(&path, *mode, *size, &mut hashing)?;
                facts.installed_kib += size.div_ceil(1024);
                if !tree.conffiles.iter().any(|c| c == absolute) {
                    facts
                        .md5sums
                        .push((absolute[1..].to_owned(), hashing.hex()));
                }
            }
            Node::Made(bytes, mode) => {
                tar.file(&path, *mode, bytes.len() as u64, &mut &bytes[..])?;
                facts.installed_kib += (bytes.len() as u64).div_ceil(1024);
                if !tree.conffiles.iter().any(|c| c == absolute) {
                    facts
                        .md5sums
                        .push((absolute[1..].to_owned(), hex(&Md5::digest(bytes))));
                }
            }
        }
    }
    let mut xz = tar.finish()?;
    xz.try_finish()?;
    let mut buffered = xz.finish()?;
    buffered.flush()?;
    drop(buffered);
    out.seek(SeekFrom::Start(0))?;
    Ok(facts)
}

/// `control.tar.xz`: `control`, `md5sums`, `conffiles` and the maintainer scripts.
fn write_control(
    control: &control::Control<'_>,
    tree: &DataTree,
    facts: &DataFacts,
    mtime: u64,
) -> std::io::Result<Vec<u8>> {
    let mut members: Vec<(&str, Vec<u8>, u32)> = Vec::new();
    members.push(("control", control.render().into_bytes(), 0o644));
    let mut md5sums = String::new();
    for (path, sum) in &facts.md5sums {
        md5sums.push_str(&format!("{sum}  {path}\n"));
    }
    members.push(("md5sums", md5sums.into_bytes(), 0o644));
    if !tree.conffiles.is_empty() {
        let text: String = tree.conffiles.iter().map(|c| format!("{c}\n")).collect();
        members.push(("conffiles", text.into_bytes(), 0o644));
    }
    for (name, text) in scripts::maintainer_scripts(control.layout, control.manifest).scripts {
        members.push((name, text.into_bytes(), 0o755));
    }
    members.sort_by(|a, b| a.0.cmp(b.0));

    let xz = xz2::write::XzEncoder::new(Vec::new(), XZ_PRESET);
    let mut tar = TarWriter::new(xz, mtime);
    tar.dir(".", 0o755)?;
    for (name, bytes, mode) in &members {
        tar.file(
            &format!("./{name}"),
            *mode,
            bytes.len() as u64,
            &mut &bytes[..],
        )?;
    }
    tar.finish()?.finish()
}

/// The `.deb`'s `ar` archive.
fn write_deb(out: &mut File, mtime: u64, control: &[u8], data: &mut File) -> std::io::Result<()> {
    let data_size = data.metadata()?.len();
    let mut ar = ArWriter::new(BufWriter::new(&mut *out), mtime)?;
    ar.member("debian-binary", 4, &mut &b"2.0\n"[..])?;
    ar.member("control.tar.xz", control.len() as u64, &mut &control[..])?;
    ar.member("data.tar.xz", data_size, &mut BufReader::new(data))?;
    ar.finish().flush()?;
    Ok(())
}

fn sha256_of(file: &mut File) -> std::io::Result<(String, u64)> {
    file.seek(SeekFrom::Start(0))?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(file, &mut hasher)?;
    Ok((hex(&hasher.finalize()), size))
}

/// A reader that hashes what passes through it with MD5.
struct Md5Reader<R> {
    inner: R,
    hasher: Md5,
}

impl<R: Read> Md5Reader<R> {
    fn new(inner: R) -> Self {
        Md5Reader {
            inner,
            hasher: Md5::new(),
        }
    }

    fn hex(self) -> String {
        hex(&self.hasher.finalize())
    }
}

impl<R: Read> Read for Md5Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
