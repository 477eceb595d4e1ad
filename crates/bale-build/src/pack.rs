//! Packing a prepared package root: the generated scripts, the detected
//! dependencies, the deterministic archive — the build's last steps, and
//! `bale pack` on its own.

use std::fs;
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bale_archive::{Dependencies, PackMeta, PackageTree, SourceRef, StackRef, Written};
use bale_manifest::Manifest;

use crate::detect::{detect_packages, Detection, Unresolved};
use crate::scripts::{start_sh, stop_sh, ServiceScript};
use crate::BuildError;

/// What to pack and how.
#[derive(Debug, Clone)]
pub struct PackRequest<'a> {
    /// The prepared package root.
    pub root: &'a Path,
    /// The resolved manifest (kind defaults filled in).
    pub manifest: &'a Manifest,
    /// The stack the root was built on.
    pub stack: StackRef,
    /// The roots of the environment the package was built in, top first
    /// (the build layer's directory, then the stack's root), whose dpkg
    /// databases map needed libraries to packages; empty skips detection.
    pub environment: Vec<PathBuf>,
    /// Whether a needed library that no package of `environment` provides
    /// fails the pack (a build) rather than being reported in
    /// [`Packed::unresolved_libraries`] (`bale pack` of a root made elsewhere).
    pub require_resolved: bool,
    /// Where the source came from.
    pub source: SourceRef,
    /// Every entry's mtime (`SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    /// The directory the archive is written into.
    pub out_dir: &'a Path,
    /// The Debian architecture the index records; `None` records none
    /// (read as amd64, see `bale_archive::Index::arch`).
    pub arch: Option<String>,
}

/// What [`pack`] produced.
#[derive(Debug, Clone)]
pub struct Packed {
    /// The archive's path: `<out_dir>/<name>-<version>.bale`.
    pub path: PathBuf,
    /// What was written.
    pub written: Written,
    /// Needed libraries no stack package was found for.
    pub unresolved_libraries: Vec<String>,
    /// Whether `script.d/start.sh` and `stop.sh` were generated.
    pub generated_scripts: bool,
}

/// Packs a prepared root into `<out_dir>/<name>-<version>.bale`, atomically.
pub fn pack(request: &PackRequest<'_>) -> Result<Packed, BuildError> {
    let manifest = request.manifest;
    let coordinate = manifest.coordinate().map_err(BuildError::Coordinate)?;
    let mut tree = PackageTree::scan(request.root)?;
    let generated_scripts = add_scripts(&mut tree, manifest, &coordinate.to_string())?;

    let needed = tree.needed_not_shipped_by();
    let detection = if request.environment.is_empty() {
        Detection {
            packages: Vec::new(),
            unresolved: needed
                .into_iter()
                .map(|(library, needed_by)| Unresolved { library, needed_by })
                .collect(),
        }
    } else {
        detect_packages(&needed, &request.environment)
            .map_err(|e| BuildError::io(&request.environment[0].join("var/lib/dpkg"), e))?
    };
    if request.require_resolved && !detection.unresolved.is_empty() {
        return Err(BuildError::UnresolvedLibraries {
            libraries: detection.unresolved,
        });
    }
    let meta = PackMeta {
        arch: request.arch.clone(),
        coordinate: coordinate.clone(),
        stack: request.stack.clone(),
        dependencies: Dependencies {
            runtime: manifest.dependencies.runtime.clone(),
            detected: detection.packages,
        },
        source: request.source.clone(),
        mtime: request.mtime,
    };

    fs::create_dir_all(request.out_dir).map_err(|e| BuildError::io(request.out_dir, e))?;
    let path = request.out_dir.join(coordinate.file_name());
    let tmp = tempfile::NamedTempFile::new_in(request.out_dir)
        .map_err(|e| BuildError::io(request.out_dir, e))?;
    // Writeback starts as the archive grows, so the final sync has little left to do.
    let mut out = BufWriter::with_capacity(1 << 20, bale_archive::WriteBehind::new(tmp));
    let written = tree.write(&meta, manifest.to_toml().as_bytes(), &mut out)?;
    out.flush().map_err(|e| BuildError::io(&path, e))?;
    let tmp = out
        .into_inner()
        .map_err(|e| BuildError::io(&path, e.into_error()))?
        .into_inner();
    // A package is for others to read; the temporary file starts private.
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
        .map_err(|e| BuildError::io(&path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| BuildError::io(&path, e))?;
    tmp.persist(&path)
        .map_err(|e| BuildError::io(&path, e.error))?;
    Ok(Packed {
        path,
        written,
        unresolved_libraries: detection
            .unresolved
            .into_iter()
            .map(|u| u.library)
            .collect(),
        generated_scripts,
    })
}

/// Adds generated `script.d/start.sh` and `stop.sh` from `[run]` unless the
/// root ships its own start script or there is nothing to run.
fn add_scripts(
    tree: &mut PackageTree,
    manifest: &Manifest,
    coordinate: &str,
) -> Result<bool, BuildError> {
    let ships_own = tree.records().iter().any(|r| r.path == "script.d/start.sh");
    if ships_own || manifest.services().is_empty() {
        return Ok(false);
    }
    let services = service_scripts(manifest);
    tree.add_generated(
        "script.d/start.sh",
        start_sh(coordinate, &services).into_bytes(),
        true,
    )?;
    tree.add_generated(
        "script.d/stop.sh",
        stop_sh(coordinate, &services).into_bytes(),
        true,
    )?;
    Ok(true)
}

/// The `[run]` services as the script generator sees them.
pub fn service_scripts(manifest: &Manifest) -> Vec<ServiceScript> {
    manifest
        .services()
        .iter()
        .map(|(name, command)| ServiceScript {
            name: name.clone(),
            command: command.clone(),
            workdir: manifest.workdir().to_owned(),
            port: manifest.port_for_service(name),
            env: manifest
                .kit_for_service(name)
                .map(|(_, kit)| kit.variable_defaults().into_iter().collect())
                .unwrap_or_default(),
        })
        .collect()
}
