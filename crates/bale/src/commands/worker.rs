//! `bale worker`: a process that only builds, sharing the database and the
//! object store with `bale serve` and other workers.

use anyhow::Context;
use bale_db::Database;
use bale_repo::Storage;
use bale_service::worker::default_worker_name;
use bale_service::Worker;
use clap::Args;

use super::serve::{cores, runtime, shutdown_signal, signing_key, worker_options};
use crate::exit::{Failure, Internal};
use crate::printer::Printer;

/// `bale worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The shared database: postgres://… (or sqlite:///path on this machine).
    #[arg(long)]
    pub database: String,
    /// The shared storage: s3://bucket?endpoint=… or a directory.
    #[arg(long)]
    pub storage: String,
    /// How many builds to run at once (default: the number of cores).
    #[arg(long, visible_alias = "workers")]
    pub concurrency: Option<usize>,
    /// The key that signs what this worker builds (default: the `default` key when there is one).
    #[arg(long)]
    pub key: Option<String>,
    /// Publish unsigned packages when there is no key.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Build sources that are paths or file:// URLs on this machine (off: only remote git URLs).
    #[arg(long)]
    pub allow_local_sources: bool,
    /// This worker's name in build records (default: host name and process id).
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds a build's lease runs without renewal before another worker may retry it.
    #[arg(long, default_value_t = 30)]
    pub lease_secs: u64,
    /// Keep a failed build's environment under $BALE_HOME/failed for this many minutes.
    #[arg(long, value_name = "MINUTES")]
    pub keep_failed: Option<u64>,
}

pub fn run(args: WorkerArgs, printer: &Printer) -> Result<(), Failure> {
    let home = super::home()?;
    std::fs::create_dir_all(home.root())
        .with_context(|| format!("creating {}", home.root().display()))
        .internal()?;
    let mut options = worker_options(&home, args.name.unwrap_or_else(default_worker_name))?;
    options.concurrency = args.concurrency.unwrap_or_else(cores).max(1);
    options.key = signing_key(&home, args.key.as_deref())?;
    options.allow_unsigned = args.allow_unsigned;
    options.allow_local_sources = args.allow_local_sources;
    options.notice = bale_service::notice_config(&home)
        .map_err(|e| Failure::user(e.into()))?
        .map(std::sync::Arc::new);
    options.public_url = super::builds::server_url(None);
    options.keep_failed = args.keep_failed;
    options.lease = std::time::Duration::from_secs(args.lease_secs.max(1));
    if options.key.is_none() && !args.allow_unsigned {
        return Err(Failure::user(anyhow::anyhow!(
            "this worker has no signing key: run `bale key generate`, pass --key KEY, or --allow-unsigned"
        )));
    }
    printer.status(
        "Working",
        format!(
            "as {} ({} at once) on {}",
            options.name, options.concurrency, args.storage
        ),
    );
    runtime()?.block_on(async {
        let db = Database::connect(&args.database)
            .await
            .map_err(|e| Failure::user(e.into()))?;
        let storage = Storage::open(&args.storage, &[]).map_err(|e| Failure::user(e.into()))?;
        storage
            .head(".bale-probe")
            .await
            .map_err(|e| Failure::user(e.into()))?;
        Worker::new(db, storage, options)
            .run(shutdown_signal())
            .await;
        Ok(())
    })
}
