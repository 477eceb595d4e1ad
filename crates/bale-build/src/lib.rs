//! The build pipeline: package roots, generated start/stop scripts, packing.

pub mod detect;
mod error;
pub mod pack;
pub mod scripts;

pub use error::BuildError;
pub use pack::{pack, PackRequest, Packed};
