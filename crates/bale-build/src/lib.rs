//! The build pipeline: package roots, generated start/stop scripts, packing.

pub mod build;
mod collect;
mod deps;
pub mod detect;
mod error;
pub mod facts;
/// The build's two layers: bale-layer's layers, made as steps of the build.
pub mod layer {
    pub use crate::deps::{prepare_runtime, prepare_with_kinds};
    pub use bale_layer::{DepsLayer, LayerInputs, RUNTIME_STEP, STEP};
}
pub mod pack;
pub mod scripts;
pub mod source;
pub mod step;

pub use build::{BuildRequest, Builder, Built};
pub use collect::collect_destinations;
pub use error::BuildError;
pub use facts::{BuildFacts, StepFacts};
pub use pack::{pack, PackRequest, Packed};
pub use step::{BuildEvent, Events};
