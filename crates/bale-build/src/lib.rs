//! The build pipeline: package roots, generated start/stop scripts, packing.

pub mod build;
mod collect;
pub mod detect;
mod error;
pub mod facts;
pub mod layer;
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
