//! Steps 2–3, runtime and dependencies: bale-layer's dependency layer for
//! the request, its install run as a step of the build's log.

use std::time::Instant;

use bale_layer::{DepsLayer, Install, LayerError, LayerInputs, LayerRequest, STEP};
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
    let inputs = LayerInputs::new(&request.stack.digest, request.manifest, kinds);
    let layer = LayerRequest {
        stack_root: &request.stack.root,
        layers_dir,
        fresh: request.fresh,
        verbose: request.verbose,
    };
    let mut step = LayerStep {
        sandbox,
        deadline,
        log,
    };
    Ok(bale_layer::prepare(&layer, &inputs, &mut step)?)
}

/// The layer's install as a step of the build.
struct LayerStep<'s, 'l, 'e> {
    sandbox: &'s Sandbox,
    deadline: Instant,
    log: &'l mut Log<'e>,
}

impl Install for LayerStep<'_, '_, '_> {
    type Error = BuildError;

    fn run(&mut self, spec: &SandboxSpec, script: String) -> Result<(), BuildError> {
        run_step(self.sandbox, spec, STEP, &[script], self.deadline, self.log).map(|_| ())
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
            LayerError::Io { path, source } => BuildError::Io { path, source },
            LayerError::Install(e) => e,
        }
    }
}
