//! Apps: deployments of installed packages (bale-store), hooks, kits,
//! services and their health, rollbacks, supervision, locks.

mod apps;
mod deploy;
mod deploy_error;
mod deployment;
mod gc;
mod hooks;
mod kits;
mod layers;
mod lock;
mod runner;
mod services;
mod supervise;
mod units;

pub use apps::{
    app_status, command, control, list_apps, log_files, uninstall, AppStatus, DeploymentSummary,
    ServiceAction, ServiceStatus,
};
pub use deploy::{
    deploy, rollback, short, DeployOptions, Deployed, PackageRef, Progress, RolledBack,
    DEFAULT_KEEP, DEPLOY_STEPS,
};
pub use deploy_error::DeployError;
pub use deployment::{AppDirs, Deployment};
pub use gc::{collect_garbage, Collected, GcReport, StoreLock};
pub use kits::{read_env, resolve, write_env, Variables};
pub use lock::{AppLock, Wait};
pub use runner::{
    machine_isolation, sandboxed_entry, Isolation, RunContext, SANDBOX_ARG, SANDBOX_RUN_DIR,
    SANDBOX_RUN_ENV,
};
pub use services::{
    is_down, log_path, log_pump_entry, mark_down, LogFollower, LogRotation, RotatingLog, Service,
    ServiceState, DEFAULT_LOG_KEEP, DEFAULT_LOG_MAX_BYTES, LOG_PUMP_ARG,
};
pub use supervise::{backoff, supervise, supervision, SuperviseOptions, Supervised, Supervision};
pub use units::{install_units, units, Unit, DEFAULT_UNIT_DIR};
