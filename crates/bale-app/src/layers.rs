//! The root of an app's sandbox: the package's stack image and, above it,
//! the package's runtime layer (its kind's runtime packages,
//! `[dependencies] runtime` and the detected packages at the versions its
//! build saw, as its index records them), found by bale-layer's key
//! ([`LayerInputs::runtime`]) and made the same way a build makes it when
//! this machine has not got it yet. Nothing the build alone needed is in it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bale_archive::{Index, Limits};
use bale_home::Home;
use bale_layer::{DpkgDatabase, FileLog, LayerInputs, LayerRequest};
use bale_manifest::{Kinds, Manifest};
use bale_sandbox::Sandbox;
use bale_stack::Stacks;

use crate::runner::is_host_root;
use crate::{DeployError, Progress};

/// How long making a missing runtime layer may take.
const LAYER_TIMEOUT: Duration = Duration::from_secs(3600);

/// Where an installed package keeps its index.
const INDEX_PATH: &str = ".bale/index.json";

/// A sandbox root: its layers, top first, and the host paths to hide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Root {
    pub(crate) layers: Vec<PathBuf>,
    pub(crate) hide: Vec<PathBuf>,
}

/// The root the package installed at `package_dir` (whose resolved
/// manifest is `manifest`) runs on, making its runtime layer if missing.
pub(crate) fn runtime_root(
    home: &Home,
    manifest: &Manifest,
    package_dir: &Path,
    progress: Progress<'_>,
) -> Result<Root, DeployError> {
    let name = &manifest.stack.name;
    let stacks = Stacks::load(home, None)?;
    let image = stacks.image(name)?;
    if is_host_root(&image.root) {
        // The host's own root: keep bale's state (keys, other apps) out of sight.
        return Ok(Root {
            layers: vec![image.root],
            hide: vec![home.root().to_path_buf()],
        });
    }
    let failed = |message: String| DeployError::Layer {
        stack: name.clone(),
        message,
    };
    let layers_dir = stacks.layers_dir(name);
    // The admin's kinds, as the build had them, so the key is the build's.
    let kinds = Kinds::load_if_present(&home.kinds_path())
        .map_err(|e| failed(bale_api::error::with_causes(&e)))?;
    let index_path = package_dir.join(INDEX_PATH);
    let index = std::fs::read(&index_path)
        .map_err(|e| DeployError::io(&index_path, e))
        .and_then(|bytes| {
            Index::from_json(&bytes, &Limits::default())
                .map_err(|e| failed(format!("{}: {e}", index_path.display())))
        })?;
    let stack_installed = match DpkgDatabase::of_root(&image.root) {
        Some(db) => db.installed().map_err(|e| {
            failed(format!(
                "cannot read the stack's dpkg database in {}: {e}",
                image.root.display()
            ))
        })?,
        None => Default::default(),
    };
    let inputs = LayerInputs::runtime(
        &image.identity,
        manifest.kind().unwrap_or_default(),
        &kinds,
        &index.dependencies.runtime,
        &index.dependencies.detected,
        &stack_installed,
    )
    .for_arch(&image.arch);
    if inputs.packages().is_empty() {
        return Ok(Root {
            layers: vec![image.root],
            hide: Vec::new(),
        });
    }
    let key = inputs.key();
    let dir = layers_dir.join(&key);
    if !dir.is_dir() {
        progress(
            "Preparing",
            &format!(
                "the runtime layer of stack {name} ({})",
                inputs.packages().join(" ")
            ),
        );
        let request = LayerRequest {
            stack_root: &image.root,
            layers_dir: &layers_dir,
            fresh: false,
            verbose: false,
        };
        make_layer(home, name, &request, &inputs)?;
    }
    Ok(Root {
        layers: vec![dir, image.root],
        hide: Vec::new(),
    })
}

/// The directories an image of the package unpacked at `package_dir` is
/// made of, base first: the stack image's root, then the package's runtime
/// layer when it has one (made as a deploy makes it, if missing). Used by
/// `bale export oci`, so an image holds exactly what a deployed app runs on.
pub fn runtime_layers(
    home: &Home,
    manifest: &Manifest,
    package_dir: &Path,
    progress: Progress<'_>,
) -> Result<Vec<PathBuf>, DeployError> {
    let mut layers = runtime_root(home, manifest, package_dir, progress)?.layers;
    layers.reverse();
    Ok(layers)
}

/// Makes the runtime layer of `inputs` as a build would, its output logged under `tmp/`.
fn make_layer(
    home: &Home,
    stack: &str,
    request: &LayerRequest<'_>,
    inputs: &LayerInputs,
) -> Result<(), DeployError> {
    let failed = |message: String| DeployError::Layer {
        stack: stack.to_owned(),
        message,
    };
    let tmp = home.tmp_dir();
    std::fs::create_dir_all(&tmp).map_err(|e| DeployError::io(&tmp, e))?;
    let log_path = tmp.join(format!("layer-{}.log", inputs.key()));
    let sandbox = Sandbox::new().map_err(|e| failed(bale_api::error::with_causes(&e)))?;
    let deadline = Instant::now() + LAYER_TIMEOUT;
    let mut log = FileLog::new(&sandbox, &log_path, deadline);
    bale_layer::prepare(request, inputs, &mut log)
        .map(|_| ())
        .map_err(|e| {
            failed(format!(
                "{} (the log is {})",
                bale_api::error::with_causes(&e),
                log_path.display()
            ))
        })
}
