//! `bale worker`: a process that only builds, sharing the database and the
//! object store with `bale serve` and other workers.

use anyhow::Context;
use bale_db::Database;
use bale_repo::Storage;
use bale_service::worker::default_worker_name;
use bale_service::Worker;

use super::serve::{cores, shutdown_signal, signing_key, worker_options};
use crate::cli::WorkerArgs;
use crate::exit::{refuse, Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: WorkerArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let home = machine.home()?;
    std::fs::create_dir_all(home.root())
        .with_context(|| format!("creating {}", home.root().display()))
        .internal()?;
    let mut options = worker_options(home, args.name.unwrap_or_else(default_worker_name))?;
    options.concurrency = args.concurrency.unwrap_or_else(cores).max(1);
    options.key = signing_key(home, args.key.as_deref())?;
    options.allow_unsigned = args.allow_unsigned;
    options.allow_local_sources = args.allow_local_sources;
    options.notice = bale_service::notice_config(home)?.map(std::sync::Arc::new);
    options.public_url = machine.repo_url(None);
    options.keep_failed = args.keep_failed;
    options.lease = std::time::Duration::from_secs(args.lease_secs.max(1));
    if options.key.is_none() && !args.allow_unsigned {
        refuse!(
            "this worker has no signing key: run `bale key generate`, pass --key KEY, or --allow-unsigned"
        );
    }
    printer.status(
        "Working",
        format!(
            "as {} ({} at once) on {}",
            options.name, options.concurrency, args.storage
        ),
    );
    machine.runtime()?.block_on(async {
        let db = Database::connect(&args.database).await?;
        let storage = Storage::open(&args.storage, &[])?;
        storage.head(".bale-probe").await?;
        Worker::new(db, storage, options)
            .run(shutdown_signal())
            .await;
        Ok::<(), Failure>(())
    })
}
