//! `bale supervise`: keep every app's services running until SIGTERM or SIGINT.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bale_app::SuperviseOptions;
use clap::Args;

use crate::exit::Failure;
use crate::printer::Printer;

/// `bale supervise` flags.
#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// Delay before the first restart of a crashed service, in milliseconds; it doubles
    /// with each failure in a row.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub first_delay_ms: u64,
    /// The longest delay between restarts, in milliseconds.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    pub max_delay_ms: u64,
    /// How long a service must stay up for its delay to start over, in milliseconds.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    pub reset_after_ms: u64,
}

pub fn run(args: SuperviseArgs, printer: &Printer) -> Result<(), Failure> {
    let home = super::home()?;
    let isolation = super::deploy::machine_isolation(&home)?;
    let options = SuperviseOptions {
        first_delay: Duration::from_millis(args.first_delay_ms),
        max_delay: Duration::from_millis(args.max_delay_ms.max(args.first_delay_ms)),
        reset_after: Duration::from_millis(args.reset_after_ms),
        ..SuperviseOptions::default()
    };
    let shutdown = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shutdown);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::internal(anyhow::anyhow!("cannot wait for signals: {e}")))?;
    let signals = runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    });
    let (mut term, mut int) =
        signals.map_err(|e| Failure::internal(anyhow::anyhow!("cannot wait for signals: {e}")))?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        flag.store(true, Ordering::SeqCst);
    });
    printer.status(
        "Supervising",
        format!("the apps of {}", home.root().display()),
    );
    bale_app::supervise(&home, isolation, &options, &shutdown, &|verb, text| {
        printer.status(verb, text)
    })
    .map_err(super::deploy::failure)?;
    printer.status("Stopped", "supervising; the services keep running");
    Ok(())
}
