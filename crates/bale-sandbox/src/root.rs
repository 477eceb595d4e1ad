//! The sandbox's root: an overlay over the lower layers, mounted in a
//! private mount namespace between fork and exec, or the host's root bound
//! read-only where the kernel refuses an unprivileged overlay of it.

use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

use crate::spec::{SandboxSpec, Upper};
use crate::SandboxError;

/// How the root is assembled for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootMode {
    /// overlayfs over the layers; `userns` when bale is not root and needs a
    /// user namespace to mount it.
    Overlay { userns: bool },
    /// The host's `/` bound read-only: an ordinary user cannot overlay `/`
    /// because its submounts are locked in a user namespace.
    HostReadOnly,
}

/// The per-run directories of the overlay, removed on drop.
pub(crate) struct Scratch {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) upper: PathBuf,
    pub(crate) work: PathBuf,
    pub(crate) merged: PathBuf,
    /// A work directory beside a kept upper layer, removed with the run.
    work_beside_upper: Option<tempfile::TempDir>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError + '_ {
    move |source| SandboxError::Scratch {
        path: path.to_path_buf(),
        source,
    }
}

impl Scratch {
    /// Creates the upper, work and mount-point directories for a run.
    pub(crate) fn create(spec: &SandboxSpec) -> Result<Scratch, SandboxError> {
        let base = spec.scratch.clone().unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("bale-run-")
            .tempdir_in(&base)
            .map_err(io_err(&base))?;
        if spec.run_as.is_some() {
            // The run's user (bwrap runs as it) must reach `merged` inside.
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o711))
                .map_err(io_err(dir.path()))?;
        }
        let merged = dir.path().join("merged");
        fs::create_dir(&merged).map_err(io_err(&merged))?;
        let (upper, work, work_beside_upper) = match &spec.upper {
            Upper::Discard => {
                let upper = dir.path().join("upper");
                let work = dir.path().join("work");
                fs::create_dir(&upper).map_err(io_err(&upper))?;
                fs::create_dir(&work).map_err(io_err(&work))?;
                (upper, work, None)
            }
            Upper::Keep(upper) => {
                fs::create_dir_all(upper).map_err(io_err(upper))?;
                // overlayfs needs upper and work on the same file system.
                let parent = upper.parent().unwrap_or(Path::new("/"));
                let work = tempfile::Builder::new()
                    .prefix(".bale-work-")
                    .tempdir_in(parent)
                    .map_err(io_err(parent))?;
                (upper.clone(), work.path().to_path_buf(), Some(work))
            }
        };
        Ok(Scratch {
            dir,
            upper,
            work,
            merged,
            work_beside_upper,
        })
    }

    /// The overlayfs mount options for these layers.
    pub(crate) fn overlay_options(
        &self,
        layers: &[PathBuf],
        userns: bool,
    ) -> Result<CString, SandboxError> {
        overlay_options(
            layers,
            &self.upper,
            &self.work,
            userns,
            self.work_beside_upper.is_none(),
        )
    }

    /// Creates, in the upper layer, mount points the layers lack, so that
    /// binds work even where the sandbox could not create them itself.
    pub(crate) fn prepare_mount_point(
        &self,
        layers: &[PathBuf],
        dst: &Path,
        is_dir: bool,
    ) -> Result<(), SandboxError> {
        // /tmp is the sandbox's own tmpfs, where bwrap makes mount points
        // itself; a stub in the upper layer would outlive the run in a kept layer.
        if crate::host::exists_in_layers(layers, dst) || dst.starts_with("/tmp") {
            return Ok(());
        }
        let comps: Vec<Component> = dst
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        let mut rel = PathBuf::new();
        for (i, c) in comps.iter().enumerate() {
            rel.push(c);
            let last = i + 1 == comps.len();
            let in_upper = self.upper.join(&rel);
            if in_upper.symlink_metadata().is_ok() {
                continue;
            }
            match top_entry(layers, &rel) {
                // A symlink or file on the way: leave it to the sandbox to report.
                Some(meta) if !meta.is_dir() => return Ok(()),
                // Copy the lower directory's mode so the merged view keeps it.
                Some(meta) => fs::DirBuilder::new()
                    .mode(meta.mode() & 0o7777)
                    .create(&in_upper)
                    .map_err(io_err(&in_upper))?,
                None if last && !is_dir => fs::write(&in_upper, b"").map_err(io_err(&in_upper))?,
                None => fs::DirBuilder::new()
                    .mode(0o755)
                    .create(&in_upper)
                    .map_err(io_err(&in_upper))?,
            }
        }
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A build may leave directories it made unreadable (and overlayfs
        // makes its work dir so): the removal opens them up where it must.
        for dir in std::iter::once(self.dir.path())
            .chain(self.work_beside_upper.as_ref().map(|w| w.path()))
        {
            let _ = bale_fs::remove_read_only_tree(dir);
        }
    }
}

/// The overlayfs mount options for `layers` over `upper`; `discarded`
/// marks an upper thrown away after the run.
pub(crate) fn overlay_options(
    layers: &[PathBuf],
    upper: &Path,
    work: &Path,
    userns: bool,
    discarded: bool,
) -> Result<CString, SandboxError> {
    for p in layers.iter().map(PathBuf::as_path).chain([upper, work]) {
        check_overlay_path(p)?;
    }
    // Bytes, not text: a path that is not UTF-8 is passed as it is.
    let mut opts: Vec<u8> = b"lowerdir=".to_vec();
    for (i, layer) in layers.iter().enumerate() {
        if i > 0 {
            opts.push(b':');
        }
        opts.extend_from_slice(layer.as_os_str().as_bytes());
    }
    opts.extend_from_slice(b",upperdir=");
    opts.extend_from_slice(upper.as_os_str().as_bytes());
    opts.extend_from_slice(b",workdir=");
    opts.extend_from_slice(work.as_os_str().as_bytes());
    if userns {
        // Without privileges overlayfs keeps its metadata in user.* xattrs.
        opts.extend_from_slice(b",userxattr");
    }
    if discarded {
        // A discarded upper never needs to reach the disk: skip the sync
        // at unmount, which would otherwise dominate a short run.
        opts.extend_from_slice(b",volatile");
    }
    CString::new(opts).map_err(|_| SandboxError::BadPath {
        path: upper.to_path_buf(),
        reason: "contains a NUL byte",
    })
}

fn top_entry(layers: &[PathBuf], rel: &Path) -> Option<fs::Metadata> {
    layers
        .iter()
        .find_map(|l| l.join(rel).symlink_metadata().ok())
}

/// overlayfs separates layers with `:` and options with `,`.
fn check_overlay_path(p: &Path) -> Result<(), SandboxError> {
    let bytes = p.as_os_str().as_bytes();
    if bytes.iter().any(|b| matches!(b, b':' | b',' | b'\\' | 0)) {
        return Err(SandboxError::BadPath {
            path: p.to_path_buf(),
            reason: "overlay layer paths may not contain ':', ',' or '\\'",
        });
    }
    Ok(())
}

/// `--ro-bind` / `--symlink` arguments that rebuild the host's root from its
/// top-level entries, leaving the sandbox root a tmpfs where mount points can
/// be made. Kernel file systems and runtime state are left out.
pub(crate) fn host_read_only_args() -> Result<Vec<OsString>, SandboxError> {
    let entries = fs::read_dir("/").map_err(io_err(Path::new("/")))?;
    let mut args: Vec<OsString> = Vec::new();
    let mut names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    for name in names {
        if ["proc", "dev", "sys", "tmp", "run"]
            .map(OsStr::new)
            .contains(&name.as_os_str())
        {
            continue;
        }
        let host = PathBuf::from("/").join(&name);
        let Ok(meta) = host.symlink_metadata() else {
            continue;
        };
        if meta.file_type().is_symlink() {
            if let Ok(target) = fs::read_link(&host) {
                args.extend(["--symlink".into(), target.into(), host.into()]);
            }
        } else {
            args.extend(["--ro-bind".into(), host.clone().into(), host.into()]);
        }
    }
    Ok(args)
}
