//! The build pipeline: package roots, generated start/stop scripts, packing.

pub mod scripts;
