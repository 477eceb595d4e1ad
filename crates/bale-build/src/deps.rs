//! The build's two layers, bale-layer's, their installs run as steps of
//! the build's log: steps 2–3 make the build environment (every package the
//! build names), the runtime layer before `[test]` holds what the package
//! runs with (its kind's runtime packages, `[dependencies] runtime` and the
//! detected packages at the versions the build saw).

use std::time::Instant;

use bale_archive::Dependencies;
use bale_layer::{
    DepsLayer, DpkgDatabase, Install, LayerError, LayerInputs, LayerRequest, RUNTIME_STEP, STEP,
};
use bale_manifest::Kinds;
use bale_sandbox::{Sandbox, SandboxSpec};

use crate::build::BuildRequest;
use crate::step::{run_step, BuildEvent, Log};
use crate::BuildError;

/// The dependency layer for `request`, its kind's packages taken from
/// `kinds`, built when missing (or with `fresh`); `None` when the stack
/// keeps no layers (the `host` stack) or there is nothing to install.
pub fn prepare_with_kinds(
    sandbox: &Sandbox,
    kinds: &Kinds,
    request: &BuildRequest<'_>,
    deadline: Instant,
    log: &mut Log<'_>,
) -> Result<Option<DepsLayer>, BuildError> {
    let Some(layers_dir) = request.layers_dir else {
        return Ok(None);
    };
    let inputs = LayerInputs::new(&request.stack.identity, request.manifest, kinds)
        .for_arch(&request.stack.arch);
    let layer = LayerRequest {
        stack_root: &request.stack.root,
        layers_dir,
        fresh: request.fresh,
        verbose: request.verbose,
    };
    let mut step = LayerStep {
        sandbox,
        step: STEP,
        deadline,
        log,
    };
    Ok(bale_layer::prepare(&layer, &inputs, &mut step)?)
}

/// The runtime layer of a package built from `request` whose index records
/// `dependencies`, its kind's runtime packages taken from `kinds`, made
/// when missing (or with `fresh`); `None` when the stack keeps no layers or
/// the stack alone holds everything the package runs with.
pub fn prepare_runtime(
    sandbox: &Sandbox,
    kinds: &Kinds,
    request: &BuildRequest<'_>,
    dependencies: &Dependencies,
    deadline: Instant,
    log: &mut Log<'_>,
) -> Result<Option<DepsLayer>, BuildError> {
    let Some(layers_dir) = request.layers_dir else {
        return Ok(None);
    };
    let stack_root = &request.stack.root;
    let stack_installed = match DpkgDatabase::of_root(stack_root) {
        Some(db) => db
            .installed()
            .map_err(|e| BuildError::io(&stack_root.join("var/lib/dpkg/status"), e))?,
        None => Default::default(),
    };
    let inputs = LayerInputs::runtime(
        &request.stack.identity,
        request.manifest.kind().unwrap_or_default(),
        kinds,
        &dependencies.runtime,
        &dependencies.detected,
        &stack_installed,
    )
    .for_arch(&request.stack.arch);
    let layer = LayerRequest {
        stack_root,
        layers_dir,
        fresh: request.fresh,
        verbose: request.verbose,
    };
    let mut step = LayerStep {
        sandbox,
        step: RUNTIME_STEP,
        deadline,
        log,
    };
    Ok(bale_layer::prepare(&layer, &inputs, &mut step)?)
}

/// The layer's install as a step of the build.
struct LayerStep<'s, 'l, 'e> {
    sandbox: &'s Sandbox,
    /// The step's name in the log.
    step: &'static str,
    deadline: Instant,
    log: &'l mut Log<'e>,
}

impl Install for LayerStep<'_, '_, '_> {
    type Error = BuildError;

    fn run(&mut self, spec: &SandboxSpec, script: String) -> Result<(), BuildError> {
        run_step(
            self.sandbox,
            spec,
            self.step,
            &[script],
            self.deadline,
            self.log,
        )
        .map(|_| ())
    }

    fn last_lines(error: &BuildError) -> Option<&str> {
        match error {
            BuildError::StepFailed { last_lines, .. } => Some(last_lines),
            _ => None,
        }
    }

    fn note(&mut self, text: &str) {
        self.log.event(BuildEvent::Note(text));
    }
}

impl From<LayerError<BuildError>> for BuildError {
    fn from(error: LayerError<BuildError>) -> BuildError {
        match error {
            LayerError::UnknownPackage { name } => BuildError::UnknownPackage { name },
            LayerError::UnavailableVersion { name, version } => {
                BuildError::UnavailableVersion { name, version }
            }
            LayerError::Io { path, source } => BuildError::Io { path, source },
            LayerError::Install(e) => e,
        }
    }
}
