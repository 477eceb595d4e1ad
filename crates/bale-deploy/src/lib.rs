//! The package store: atomic installs, verification of installed packages.

mod error;
mod package_file;
mod staging;
mod store;
mod verify;

pub use error::StoreError;
pub use store::{InstallOptions, InstallOutcome, Installed, Store};
pub use verify::{Finding, Problem, VerifyReport};
