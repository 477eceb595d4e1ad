//! The package store: atomic installs of `.bale` files under
//! `$BALE_HOME/pkgs`, their signatures checked against the keys this machine
//! trusts, and verification of installed packages against their index.

mod error;
mod package_file;
mod staging;
mod store;
mod verify;

pub use error::StoreError;
pub use store::{InstallOptions, InstallOutcome, Installed, Store};
pub use verify::{Finding, Problem, VerifyReport};
