//! The root of an app's sandbox: the package's stack image and, above it,
//! the dependency layer the build of the package uses, found by the same
//! key (bale-build's [`LayerInputs`]) and made the same way when this
//! machine has not got it yet.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bale_build::layer::{self, LayerInputs};
use bale_build::{BuildEvent, BuildRequest};
use bale_home::Home;
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
    let scratch = home.tmp_dir();
    let request = BuildRequest {
        source_dir: &scratch,
        manifest,
        stack: &image,
        layers_dir: Some(&layers_dir),
        out_dir: &scratch,
        scratch_dir: &scratch,
        cache_dir: &scratch,
        hide: Vec::new(),
        fresh: false,
        verbose: false,
    };
    // The admin's kinds, as the build had them, so the key is the build's.
    let kinds = Kinds::load_if_present(&home.kinds_path()).map_err(|e| DeployError::Layer {
        stack: name.clone(),
        message: crate::deploy_error::with_causes(&e),
    })?;
    let inputs = LayerInputs::with_kinds(&request, &kinds);
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
        make_layer(home, &kinds, &request, &key)?;
    }
    Ok(Root {
        layers: vec![dir, image.root],
        hide: Vec::new(),
    })
}

/// Makes the dependency layer of `request` as a build would, its output logged under `tmp/`.
fn make_layer(
    home: &Home,
    kinds: &Kinds,
    request: &BuildRequest<'_>,
    key: &str,
) -> Result<(), DeployError> {
    let failed = |message: String| DeployError::Layer {
        stack: request.stack.name.clone(),
        message,
    };
    let tmp = home.tmp_dir();
    std::fs::create_dir_all(&tmp).map_err(|e| DeployError::io(&tmp, e))?;
    let log_path = tmp.join(format!("layer-{key}.log"));
    let sandbox = Sandbox::new().map_err(|e| failed(crate::deploy_error::with_causes(&e)))?;
    let mut events = |_: BuildEvent<'_>| {};
    let mut log = bale_build::step::Log::create(&log_path, &mut events)
        .map_err(|e| failed(crate::deploy_error::with_causes(&e)))?;
    let deadline = Instant::now() + LAYER_TIMEOUT;
    layer::prepare_with_kinds(&sandbox, kinds, request, deadline, &mut log)
        .map(|_| ())
        .map_err(|e| {
            failed(format!(
                "{} (the log is {})",
                crate::deploy_error::with_causes(&e),
                log_path.display()
            ))
        })
}
