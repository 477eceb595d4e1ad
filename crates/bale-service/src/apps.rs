//! The apps of the machine the service runs on, as the dashboard lists them.
//!
//! The caller provides them (`bale serve` lists them with bale-app), so the
//! build service never links the deployer, the builder or the sandbox.

use bale_dashboard::AppRow;

/// Lists the apps of this machine for the dashboard.
pub trait Apps: Send + Sync + std::fmt::Debug {
    /// Every app with its current package and its services' states; called
    /// on a thread that may block.
    fn list(&self) -> Result<Vec<AppRow>, Box<dyn std::error::Error + Send + Sync>>;
}
