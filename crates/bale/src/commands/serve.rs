//! `bale serve`: the repository, the build service's API and local build
//! workers in one process.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bale_home::Home;
use bale_repo::ServeOptions;
use bale_service::worker::default_worker_name;
use bale_service::{AppRow, ServiceOptions, WorkerOptions};

use crate::cli::ServeArgs;
use crate::exit::{Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

pub(super) fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The signing key: the one named, else `default` when it exists, else none.
pub(super) fn signing_key(
    home: &Home,
    named: Option<&str>,
) -> Result<Option<Arc<bale_sign::SecretKey>>, Failure> {
    match named {
        Some(name) => Ok(Some(Arc::new(super::key::load_secret_key(
            home,
            Some(name),
        )?))),
        None if home.keys_dir().join("default.key").is_file() => {
            Ok(Some(Arc::new(super::key::load_secret_key(home, None)?)))
        }
        None => Ok(None),
    }
}

pub(super) fn worker_options(home: &Home, name: String) -> Result<WorkerOptions, Failure> {
    let exe: PathBuf = std::env::current_exe()
        .context("finding the bale executable")
        .internal()?;
    Ok(WorkerOptions::new(name, exe, home.clone()))
}

pub fn run(args: ServeArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let home = machine.home()?.clone();
    let mut options = ServeOptions::for_home(&home);
    options.listen = args.listen;
    if let Some(storage) = args.storage {
        options.storage_url = storage;
    }
    if let Some(database) = args.database {
        options.database_url = database;
    }
    options.allow_unsigned = args.allow_unsigned;
    if let Some(max) = args.max_upload_bytes {
        options.max_upload_bytes = max;
    }
    options.private = bale_service::server_config(&home)?.private;
    std::fs::create_dir_all(home.root())
        .with_context(|| format!("creating {}", home.root().display()))
        .internal()?;
    let workers = args.workers.unwrap_or_else(cores);
    let mut worker = worker_options(&home, default_worker_name())?;
    worker.key = signing_key(&home, args.key.as_deref())?;
    worker.allow_unsigned = args.allow_unsigned;
    worker.allow_local_sources = args.allow_local_sources;
    worker.secrets = args.hook_secret.iter().cloned().collect();
    worker.notice = bale_service::notice_config(&home)?.map(Arc::new);
    worker.public_url = format!("http://{}", options.listen);
    worker.keep_failed = args.keep_failed;
    if workers > 0 && worker.key.is_none() && !args.allow_unsigned {
        printer.warn("no signing key: builds will fail to publish; run `bale key generate` or pass --key (or --allow-unsigned)");
    }
    let service = ServiceOptions {
        serve: options.clone(),
        home: home.clone(),
        workers,
        worker,
        hook_secret: args.hook_secret,
        apps: Some(Arc::new(MachineApps(home.clone()))),
    };
    printer.status(
        "Serving",
        format!(
            "the repository and build service on http://{} (storage {}, {workers} local worker(s))",
            options.listen, options.storage_url
        ),
    );
    let supervisor = if args.no_supervise {
        None
    } else {
        Some(supervise_in_background(
            &service.home,
            machine.isolation()?,
            *printer,
        )?)
    };
    let served = machine.runtime()?.block_on(async {
        let bound = bale_service::bind(service).await?;
        bound.run_until(shutdown_signal()).await
    });
    if let Some((stop, thread)) = supervisor {
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = thread.join();
    }
    Ok(served?)
}

/// This machine's apps for the dashboard, as bale-app lists them.
#[derive(Debug)]
struct MachineApps(Home);

impl bale_service::Apps for MachineApps {
    fn list(&self) -> Result<Vec<AppRow>, Box<dyn std::error::Error + Send + Sync>> {
        let apps = bale_app::list_apps(&self.0)?;
        Ok(apps
            .into_iter()
            .map(|a| AppRow {
                name: a.name,
                coordinate: a.current.map(|c| c.coordinate),
                services: a
                    .services
                    .into_iter()
                    .map(|s| (s.name, s.state.to_string()))
                    .collect(),
            })
            .collect())
    }
}

/// Keeps this machine's apps running on a thread of its own until the returned flag is set.
fn supervise_in_background(
    home: &Home,
    isolation: bale_app::Isolation,
    printer: Printer,
) -> Result<
    (
        Arc<std::sync::atomic::AtomicBool>,
        std::thread::JoinHandle<()>,
    ),
    Failure,
> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let home = home.clone();
    let thread = std::thread::Builder::new()
        .name("supervise".into())
        .spawn(move || {
            let progress = |verb: &str, text: &str| printer.status(verb, text);
            if let Err(e) = bale_app::supervise(
                &home,
                isolation,
                &bale_app::SuperviseOptions::default(),
                &flag,
                &progress,
            ) {
                printer.warn(format_args!(
                    "supervising the apps stopped: {}",
                    crate::printer::Causes(&e)
                ));
            }
        })
        .context("starting the supervisor thread")
        .internal()?;
    Ok((stop, thread))
}

pub(super) async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
