//! Apps: deployments of installed packages (bale-store), hooks, kits,
//! services and their health, rollbacks, supervision, locks.

mod apps;
mod config;
mod cutover;
mod deploy;
mod deploy_error;
mod deployment;
mod gc;
mod hooks;
mod kits;
mod layers;
mod lock;
mod proxy;
mod run_records;
mod runner;
mod services;
mod supervise;
mod units;
mod users;

pub use apps::{
    app_status, command, control, list_apps, log_files, uninstall, AppStatus, DeploymentSummary,
    LastExit, ServiceAction, ServiceLimits, ServiceStatus,
};
pub use deploy::{
    deploy, rollback, short, DeployOptions, Deployed, PackageRef, Progress, RolledBack,
    DEFAULT_KEEP, DEPLOY_STEPS,
};
pub use deploy_error::DeployError;
pub use deployment::{AppDirs, Deployment};
pub use gc::{collect_garbage, Collected, GcReport, StoreLock};
pub use kits::{ports, read_env, resolve, write_env, Variables};
pub use layers::runtime_layers;
pub use lock::{AppLock, Wait};
pub use proxy::{
    current_routes, proxy_entry, serve_proxy, service_port, ProxyLaunch, Route, Routes, PROXY_ARG,
};
pub use run_records::{ExitRecord, LimitsRecord};
pub use runner::{
    machine_isolation, port_variable, sandboxed_entry, Isolation, Ports, Role, RunContext,
    SANDBOX_ARG, SANDBOX_RUN_DIR, SANDBOX_RUN_ENV,
};
pub use services::{
    is_down, log_path, log_pump_entry, mark_down, LogFollower, LogRotation, RotatingLog, Service,
    ServiceState, DEFAULT_LOG_KEEP, DEFAULT_LOG_MAX_BYTES, LOG_PUMP_ARG,
};
pub use supervise::{backoff, supervise, supervision, SuperviseOptions, Supervised, Supervision};
pub use units::{install_units, units, Unit, DEFAULT_UNIT_DIR};
pub use users::{user_name, AppUser};
