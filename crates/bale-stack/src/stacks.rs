//! The stack verbs: create, list, start, stop, sanitize, rm.

use std::fs;
use std::path::{Path, PathBuf};

use bale_home::Home;

use crate::arch::{check_arch, image_dir_name, machine_arch, parse_image_dir_name, UNMARKED_ARCH};
use crate::config::{check_name, StackDef, StacksConfig};
use crate::debootstrap::{copy_image, Bootstrap};
use crate::digest::{image_manifest, manifest_differences, package_differences, Difference};
use crate::emulation::{ensure_emulation, Execution};
use crate::identity::{image_identity, installed_packages};
use crate::mirror::host_mirror;
use crate::record::StackRecord;
use crate::StackError;

/// The digest reported for the `host` stack, whose root is the host's own.
pub const HOST_DIGEST: &str = "host";

/// A stack image ready to be a sandbox's lowest layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackImage {
    /// The stack's name.
    pub name: String,
    /// The Debian architecture of the image's programs (the machine's for the host stack).
    pub arch: String,
    /// The image's root directory (`/` for the host stack).
    pub root: PathBuf,
    /// The image's byte digest ([`HOST_DIGEST`] for the host stack): what
    /// build records keep, and what sanitize checks.
    pub digest: String,
    /// The image's identity by content ([`HOST_DIGEST`] for the host
    /// stack): what a package's index and its layers' keys name.
    pub identity: String,
}

/// Whether a stack exists and is kept warm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StackState {
    /// Configured, never created (or removed).
    Absent,
    /// The image exists.
    Created,
    /// The image exists and is kept warm (`bale stack start`).
    Warm,
}

impl std::fmt::Display for StackState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StackState::Absent => "absent",
            StackState::Created => "created",
            StackState::Warm => "warm",
        })
    }
}

/// One line of `bale stack list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StackInfo {
    /// The stack's name.
    pub name: String,
    /// The image's Debian architecture (`amd64`, `arm64`, …).
    pub arch: String,
    /// `debootstrap`, `host`, or `unconfigured` for an image no configuration names.
    pub kind: &'static str,
    /// Absent, created or warm.
    pub state: StackState,
    /// Bytes of the image's files, when created.
    pub size_bytes: Option<u64>,
    /// The image's digest, when created.
    pub digest: Option<String>,
    /// The image's identity by content (suite, architecture, packages), when
    /// created: what a package's index names; equal for two creations of the
    /// same stack from the same mirror.
    pub identity: Option<String>,
    /// When the image was made (seconds since the Unix epoch).
    pub created: Option<u64>,
}

/// What `sanitize` found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitizeReport {
    /// How the image differed from its record; empty when it matched.
    pub differences: Vec<Difference>,
    /// Whether the image was rebuilt.
    pub rebuilt: bool,
    /// The image's digest afterwards.
    pub digest: String,
}

/// The stacks of one machine: their configuration and their images under
/// `$BALE_HOME/stacks/<name>/` (`image/`, `stack.json`, `manifest.txt`,
/// `warm`, `layers/`), one per architecture: `<name>/` for
/// [`UNMARKED_ARCH`], `<name>@<arch>/` for the others. The verbs act on
/// the images of one architecture, the machine's unless
/// [`Stacks::with_arch`] says otherwise; `list` shows every one.
#[derive(Debug, Clone)]
pub struct Stacks {
    dir: PathBuf,
    config: StacksConfig,
    image_cache: Option<PathBuf>,
    arch: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StackError + '_ {
    move |source| StackError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Stacks {
    /// The shipped stacks with `config_override` (else `$BALE_HOME/stacks.toml`)
    /// on top, using the image cache the configuration names, if any.
    pub fn load(home: &Home, config_override: Option<&Path>) -> Result<Stacks, StackError> {
        let config = StacksConfig::load(home.stacks_config_path(), config_override)?;
        let image_cache = config.image_cache.clone();
        Ok(Stacks {
            dir: home.stacks_dir(),
            config,
            image_cache,
            arch: machine_arch().to_string(),
        })
    }

    /// The same stacks, acting on the images for Debian architecture `arch`
    /// (made and run through qemu's user emulators when it is not the machine's).
    pub fn with_arch(mut self, arch: &str) -> Result<Stacks, StackError> {
        check_arch(arch)?;
        self.arch = arch.to_string();
        Ok(self)
    }

    /// The architecture the verbs act on.
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// Uses `dir` as a cache of pristine images (`<dir>/<name>/` shaped like
    /// a stack directory): `create` and `sanitize` copy a verified cached
    /// image instead of running debootstrap, and fill the cache after a run.
    pub fn with_image_cache(mut self, dir: impl Into<PathBuf>) -> Stacks {
        self.image_cache = Some(dir.into());
        self
    }

    /// The loaded configuration.
    pub fn config(&self) -> &StacksConfig {
        &self.config
    }

    /// The name of every stack this machine defines, shipped or the admin's.
    pub fn names(&self) -> Vec<String> {
        self.config.stacks.keys().cloned().collect()
    }

    /// How stack `name` is made.
    pub fn definition(&self, name: &str) -> Result<&StackDef, StackError> {
        check_name(name)?;
        self.config
            .stacks
            .get(name)
            .ok_or_else(|| StackError::Unknown {
                name: name.to_string(),
                known: self
                    .config
                    .stacks
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// `stacks/`, where every image's directory is.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of stack `name`'s image for the architecture acted on.
    pub fn stack_dir(&self, name: &str) -> PathBuf {
        self.dir.join(image_dir_name(name, &self.arch))
    }

    /// Where the dependency layers built over stack `name` live.
    pub fn layers_dir(&self, name: &str) -> PathBuf {
        self.stack_dir(name).join("layers")
    }

    /// The record of created stack `name`.
    pub fn record(&self, name: &str) -> Result<StackRecord, StackError> {
        self.definition(name)?;
        let path = self.stack_dir(name).join("stack.json");
        if !path.is_file() {
            return Err(StackError::NotCreated {
                name: name.to_string(),
                arch: (self.arch != UNMARKED_ARCH).then(|| self.arch.clone()),
            });
        }
        StackRecord::read(&path)
    }

    /// The image of stack `name`, for a build.
    pub fn image(&self, name: &str) -> Result<StackImage, StackError> {
        if let StackDef::Host {} = self.definition(name)? {
            return self.host_image(name);
        }
        let record = self.record(name)?;
        let root = self.stack_dir(name).join("image");
        let identity = match record.identity {
            Some(identity) => identity,
            None => image_identity(&root, &record.suite)?.identity,
        };
        Ok(StackImage {
            name: name.to_string(),
            arch: self.arch.clone(),
            root,
            digest: record.digest,
            identity,
        })
    }

    /// Which mirror a create of `name` would use, and whether one was found.
    pub fn mirror_for(&self, name: &str, mirror: Option<&str>) -> Result<String, StackError> {
        let StackDef::Debootstrap {
            suite, mirror: own, ..
        } = self.definition(name)?
        else {
            return Err(StackError::NotDebian {
                name: name.to_string(),
            });
        };
        mirror
            .map(str::to_string)
            .or_else(|| own.clone())
            .or_else(|| self.config.mirror.clone())
            .or_else(|| host_mirror(suite))
            .map(|m| m.trim_end_matches('/').to_string())
            .ok_or_else(|| StackError::NoMirror {
                name: name.to_string(),
            })
    }

    /// Makes a clean image of stack `name`, from the image cache when it
    /// holds a verified copy, else with debootstrap; refuses a stack that
    /// already has one ([`StackError::Exists`]: sanitize it, or
    /// [`Stacks::recreate`] it). `progress` receives one line at a time.
    pub fn create(
        &self,
        name: &str,
        mirror: Option<&str>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<StackImage, StackError> {
        if matches!(self.definition(name)?, StackDef::Debootstrap { .. })
            && self.stack_dir(name).join("stack.json").exists()
        {
            return Err(StackError::Exists {
                name: name.to_string(),
            });
        }
        self.make(name, mirror, progress)
    }

    /// Makes a new clean image of stack `name`, replacing the existing one
    /// atomically, and drops its dependency layers: the new image may hold
    /// other package versions, so layers made over the old one are not kept.
    pub fn recreate(
        &self,
        name: &str,
        mirror: Option<&str>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<StackImage, StackError> {
        let _lease = self.lease_exclusive(name, progress)?;
        let image = self.make(name, mirror, progress)?;
        let layers = self.layers_dir(name);
        if layers.exists() {
            progress(&format!(
                "dropping the dependency layers of {name}: they are made again on demand"
            ));
            bale_fs::remove_tree(&layers)?;
        }
        Ok(image)
    }

    /// Makes a clean image of stack `name`, replacing any existing one
    /// atomically (keeping its layers and warm mark).
    fn make(
        &self,
        name: &str,
        mirror: Option<&str>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<StackImage, StackError> {
        let def = self.definition(name)?.clone();
        let StackDef::Debootstrap {
            suite,
            variant,
            components,
            include,
            ..
        } = &def
        else {
            return self.host_image(name);
        };
        let mirror = self.mirror_for(name, mirror)?;
        let arch = self.arch.as_str();
        let dir_name = image_dir_name(name, arch);
        if !rustix::process::geteuid().is_root() {
            return Err(StackError::NeedsRoot {
                name: name.to_string(),
            });
        }
        fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let staging = tempfile::Builder::new()
            .prefix(&format!(".new-{dir_name}-"))
            .tempdir_in(&self.dir)
            .map_err(io(&self.dir))?;
        let image = staging.path().join("image");
        let wanted = |r: &StackRecord| {
            r.suite == *suite
                && r.variant == *variant
                && r.components == *components
                && r.include == *include
                && r.mirror == mirror
                && r.arch() == arch
        };

        // The copy is verified against the cached record, so a damaged cache
        // entry costs one walk and falls back to debootstrap.
        let mut from_cache = None;
        if let Some(entry) = self.image_cache.as_ref().map(|c| c.join(&dir_name)) {
            if let Some(record) = StackRecord::read(&entry.join("stack.json"))
                .ok()
                .filter(|r| wanted(r))
            {
                progress(&format!(
                    "copying the pristine image of {name} from {}",
                    entry.display()
                ));
                copy_image(&entry.join("image"), &image)?;
                let manifest = image_manifest(&image)?;
                if manifest.digest == record.digest {
                    from_cache = Some((
                        StackRecord {
                            name: name.to_string(),
                            ..record
                        },
                        manifest,
                    ));
                } else {
                    progress(&format!(
                        "the cached image at {} no longer matches its digest; not used",
                        entry.display()
                    ));
                    bale_fs::remove_tree(&image)?;
                }
            }
        }
        let cached = from_cache.is_some();
        let (mut record, manifest) = match from_cache {
            Some(found) => found,
            None => {
                // Checked before the download, so a missing emulator fails fast.
                let execution = ensure_emulation(arch)?;
                let how = match execution {
                    Execution::Native => String::new(),
                    Execution::Runs => format!(" for {arch}, emulated"),
                    Execution::Foreign => format!(" for {arch}, in two stages"),
                };
                progress(&format!(
                    "debootstrap {suite} ({variant}){how} from {mirror}"
                ));
                Bootstrap {
                    suite,
                    variant,
                    components,
                    include,
                    mirror: &mirror,
                    // The machine's own architecture is debootstrap's default.
                    arch: (execution != Execution::Native).then_some(arch),
                    foreign: execution == Execution::Foreign,
                }
                .run(&image, progress)?;
                finish_image(&image, suite, components, &mirror)?;
                let manifest = image_manifest(&image)?;
                let record = StackRecord {
                    name: name.to_string(),
                    arch: Some(arch.to_string()),
                    suite: suite.clone(),
                    variant: variant.clone(),
                    components: components.clone(),
                    include: include.clone(),
                    mirror: mirror.clone(),
                    digest: manifest.digest.clone(),
                    identity: None,
                    packages: installed_packages(&image)?,
                    created: bale_fs::now_secs(),
                    size_bytes: manifest.size_bytes,
                };
                (record, manifest)
            }
        };
        // Computed again for a cached copy too: the cache's record may
        // predate identities.
        record.identity = Some(image_identity(&image, suite)?.identity);
        bale_fs::write_atomic(
            &staging.path().join("manifest.txt"),
            manifest.text.as_bytes(),
        )?;
        record.write(&staging.path().join("stack.json"))?;

        if let (Some(cache), false) = (&self.image_cache, cached) {
            progress(&format!("keeping a pristine copy in {}", cache.display()));
            fill_cache(cache, &dir_name, staging.path())?;
        }
        let final_dir = self.stack_dir(name);
        swap_in(staging, &final_dir)?;
        // Its digest was just computed: the first build need not hash it again.
        crate::check::mark_checked(&final_dir, &record.digest);
        Ok(StackImage {
            name: name.to_string(),
            arch: arch.to_string(),
            root: final_dir.join("image"),
            digest: record.digest,
            identity: record.identity.unwrap_or_default(),
        })
    }

    /// The architectures this machine has a stack image of, each once,
    /// sorted: read from the names of the images' directories alone.
    pub fn image_archs(&self) -> Vec<String> {
        let archs: std::collections::BTreeSet<String> = self
            .images_on_disk()
            .into_iter()
            .map(|(_, arch)| arch)
            .collect();
        archs.into_iter().collect()
    }

    /// `(name, arch)` of every created image under `stacks/`.
    fn images_on_disk(&self) -> Vec<(String, String)> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                let created = !n.starts_with('.') && e.path().join("stack.json").is_file();
                let (name, arch) = parse_image_dir_name(&n);
                created.then(|| (name.to_string(), arch.to_string()))
            })
            .collect()
    }

    /// Every configured stack and every image on disk, with state and size.
    pub fn list(&self) -> Result<Vec<StackInfo>, StackError> {
        // Every configured stack for the architecture acted on (absent or
        // not), and every image on disk, whatever its architecture.
        let mut images: Vec<(String, String)> = self
            .config
            .stacks
            .keys()
            .map(|n| (n.clone(), self.arch.clone()))
            .collect();
        for image in self.images_on_disk() {
            if !images.contains(&image) {
                images.push(image);
            }
        }
        images.sort();
        let mut out = Vec::new();
        for (name, arch) in images {
            let dir = self.dir.join(image_dir_name(&name, &arch));
            let warm = dir.join("warm").exists();
            let kind = match self.config.stacks.get(&name) {
                Some(StackDef::Host {}) => {
                    let state = if warm {
                        StackState::Warm
                    } else {
                        StackState::Created
                    };
                    out.push(StackInfo {
                        name,
                        arch: machine_arch().to_string(),
                        kind: "host",
                        state,
                        size_bytes: None,
                        digest: Some(HOST_DIGEST.into()),
                        identity: Some(HOST_DIGEST.into()),
                        created: None,
                    });
                    continue;
                }
                Some(StackDef::Debootstrap { .. }) => "debootstrap",
                None => "unconfigured",
            };
            let record = StackRecord::read(&dir.join("stack.json")).ok();
            let state = match (&record, warm) {
                (None, _) => StackState::Absent,
                (Some(_), true) => StackState::Warm,
                (Some(_), false) => StackState::Created,
            };
            out.push(StackInfo {
                name,
                arch,
                kind,
                state,
                size_bytes: record.as_ref().map(|r| r.size_bytes),
                digest: record.as_ref().map(|r| r.digest.clone()),
                // A record from before identities: computed as a build would.
                identity: record.as_ref().and_then(|r| {
                    r.identity.clone().or_else(|| {
                        image_identity(&dir.join("image"), &r.suite)
                            .ok()
                            .map(|i| i.identity)
                    })
                }),
                created: record.as_ref().map(|r| r.created),
            });
        }
        Ok(out)
    }

    /// Keeps stack `name` warm: marks it, and reads its image once so the
    /// page cache holds it for the next builds. Its dependency layers are
    /// kept until `stop`.
    pub fn start(&self, name: &str) -> Result<(), StackError> {
        let image = self.image(name)?;
        let dir = self.stack_dir(name);
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        if image.root != Path::new("/") {
            read_through(&image.root);
        }
        Ok(bale_fs::write_atomic(&dir.join("warm"), b"")?)
    }

    /// Stops keeping stack `name` warm: drops the mark and evicts its
    /// dependency layers (they are a cache, rebuilt on demand). The image stays.
    pub fn stop(&self, name: &str) -> Result<(), StackError> {
        self.definition(name)?;
        let _lease = self.lease_exclusive(name, &mut |_| {})?;
        let dir = self.stack_dir(name);
        let warm = dir.join("warm");
        if warm.exists() {
            fs::remove_file(&warm).map_err(io(&warm))?;
        }
        Ok(bale_fs::remove_tree(&self.layers_dir(name))?)
    }

    /// Checks stack `name` against its recorded digest and package list and
    /// rebuilds it when anything differs, saying what did.
    pub fn sanitize(
        &self,
        name: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<SanitizeReport, StackError> {
        if let StackDef::Host {} = self.definition(name)? {
            return Ok(SanitizeReport {
                differences: Vec::new(),
                rebuilt: false,
                digest: HOST_DIGEST.into(),
            });
        }
        let record = self.record(name)?;
        let _lease = self.lease_exclusive(name, progress)?;
        let differences = self.differences(name, &record)?;
        if differences.is_empty() {
            return Ok(SanitizeReport {
                differences,
                rebuilt: false,
                digest: record.digest,
            });
        }
        for d in &differences {
            progress(&d.to_string());
        }
        self.restore(name, &record, differences, progress)
    }

    /// How stack `name`'s image differs from `record`, its record: every
    /// entry of its manifest and every installed package; empty when it
    /// matches.
    pub(crate) fn differences(
        &self,
        name: &str,
        record: &StackRecord,
    ) -> Result<Vec<Difference>, StackError> {
        let dir = self.stack_dir(name);
        let image = dir.join("image");
        if !image.is_dir() {
            return Ok(vec![Difference::Removed(String::new())]);
        }
        let current = image_manifest(&image)?;
        let recorded = fs::read_to_string(dir.join("manifest.txt")).unwrap_or_default();
        let mut d = if current.digest == record.digest {
            Vec::new()
        } else {
            manifest_differences(&recorded, &current.text)
        };
        if current.digest != record.digest && d.is_empty() {
            // The manifest beside the record is gone or altered too.
            d.push(Difference::Changed(
                "(manifest.txt does not match stack.json)".into(),
            ));
        }
        // A removed dpkg database is a difference to repair, not an error.
        let installed = match installed_packages(&image) {
            Err(StackError::NoPackageDatabase { .. }) => Vec::new(),
            other => other?,
        };
        d.extend(package_differences(&record.packages, &installed));
        Ok(d)
    }

    /// Rebuilds stack `name`, found to differ from `record` by `differences`.
    pub(crate) fn restore(
        &self,
        name: &str,
        record: &StackRecord,
        differences: Vec<Difference>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<SanitizeReport, StackError> {
        let rebuilt = self.make(name, Some(&record.mirror), progress)?;
        Ok(SanitizeReport {
            differences,
            rebuilt: true,
            digest: rebuilt.digest,
        })
    }

    /// Removes stack `name`'s image, record and layers.
    pub fn rm(&self, name: &str) -> Result<(), StackError> {
        self.definition(name)?;
        let _lease = self.lease_exclusive(name, &mut |_| {})?;
        Ok(bale_fs::remove_tree(&self.stack_dir(name))?)
    }
}

impl Stacks {
    /// The host stack: the machine's own root, so only for the machine's architecture.
    fn host_image(&self, name: &str) -> Result<StackImage, StackError> {
        if self.arch != machine_arch() {
            return Err(StackError::HostArch {
                name: name.to_string(),
                arch: self.arch.clone(),
                machine: machine_arch(),
            });
        }
        Ok(StackImage {
            name: name.to_string(),
            arch: self.arch.clone(),
            root: PathBuf::from("/"),
            digest: HOST_DIGEST.into(),
            identity: HOST_DIGEST.into(),
        })
    }
}

/// Points the image's apt at the mirror it was made from and drops the
/// downloaded archives debootstrap leaves behind.
fn finish_image(
    image: &Path,
    suite: &str,
    components: &[String],
    mirror: &str,
) -> Result<(), StackError> {
    let sources = image.join("etc/apt/sources.list");
    bale_fs::write_atomic(
        &sources,
        format!("deb {mirror} {suite} {}\n", components.join(" ")).as_bytes(),
    )?;
    let archives = image.join("var/cache/apt/archives");
    if let Ok(entries) = fs::read_dir(&archives) {
        for e in entries.flatten() {
            if e.path().extension().is_some_and(|x| x == "deb") {
                fs::remove_file(e.path()).map_err(io(&e.path()))?;
            }
        }
    }
    Ok(())
}

fn fill_cache(cache: &Path, dir_name: &str, staging: &Path) -> Result<(), StackError> {
    fs::create_dir_all(cache).map_err(io(cache))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".new-{dir_name}-"))
        .tempdir_in(cache)
        .map_err(io(cache))?;
    copy_image(&staging.join("image"), &tmp.path().join("image"))?;
    for f in ["stack.json", "manifest.txt"] {
        fs::copy(staging.join(f), tmp.path().join(f)).map_err(io(&staging.join(f)))?;
    }
    swap_in(tmp, &cache.join(dir_name))
}

/// Moves a finished staging directory to `dest` in one step; the previous
/// `dest`, if any, is exchanged out and removed, keeping its layers and
/// warm mark.
fn swap_in(staging: tempfile::TempDir, dest: &Path) -> Result<(), StackError> {
    let staged = staging.keep();
    // Temporary directories are private; a stack is read by every builder.
    fs::set_permissions(&staged, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .map_err(io(&staged))?;
    if !dest.exists() {
        return fs::rename(&staged, dest).map_err(io(dest));
    }
    rustix::fs::renameat_with(
        rustix::fs::CWD,
        &staged,
        rustix::fs::CWD,
        dest,
        rustix::fs::RenameFlags::EXCHANGE,
    )
    .map_err(|e| StackError::Io {
        path: dest.to_path_buf(),
        source: e.into(),
    })?;
    // `staged` now holds the old stack.
    for keep in ["layers", "warm"] {
        let (old, new) = (staged.join(keep), dest.join(keep));
        if old.exists() && !new.exists() {
            let _ = fs::rename(old, new);
        }
    }
    Ok(bale_fs::remove_tree(&staged)?)
}

/// Reads every regular file under `dir` once, ignoring errors: warming only.
fn read_through(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            read_through(&e.path());
        } else if ft.is_file() {
            if let Ok(mut f) = fs::File::open(e.path()) {
                let _ = std::io::copy(&mut f, &mut std::io::sink());
            }
        }
    }
}
