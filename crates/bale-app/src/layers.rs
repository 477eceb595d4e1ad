//! The root of an app's sandbox: the package's stack image and, above it,
//! the dependency layer the build of the package uses, found by the same
//! key (bale-layer's [`LayerInputs`]) and made the same way when this
//! machine has not got it yet.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bale_home::Home;
use bale_layer::{FileLog, LayerInputs, LayerRequest};
use bale_manifest::{Kinds, Manifest};
use bale_sandbox::Sandbox;
use bale_stack::Stacks;

use crate::runner::is_host_root;
use crate::{DeployError, Progress};

/// How long making a missing dependency layer may take.
const LAYER_TIMEOUT: Duration = Duration::from_secs(3600);

/// A sandbox root: its layers, top first, and the host paths to hide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Root {
    pub(crate) layers: Vec<PathBuf>,
    pub(crate) hide: Vec<PathBuf>,
}

/// The root the package of `manifest` runs on, making its dependency layer if missing.
pub(crate) fn runtime_root(
    home: &Home,
    manifest: &Manifest,
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
    let layers_dir = stacks.layers_dir(name);
    // The admin's kinds, as the build had them, so the key is the build's.
    let kinds = Kinds::load_if_present(&home.kinds_path()).map_err(|e| DeployError::Layer {
        stack: name.clone(),
        message: bale_api::error::with_causes(&e),
    })?;
    let inputs = LayerInputs::new(&image.digest, manifest, &kinds);
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
                "the dependency layer of stack {name} ({})",
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

/// Makes the dependency layer of `inputs` as a build would, its output logged under `tmp/`.
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
