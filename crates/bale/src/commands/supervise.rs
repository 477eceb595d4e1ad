//! `bale supervise`: keep every app's services running until SIGTERM or SIGINT.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bale_app::SuperviseOptions;

use crate::cli::SuperviseArgs;
use crate::exit::{Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: SuperviseArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let home = machine.home()?;
    let isolation = machine.isolation()?;
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
        .context("cannot wait for signals")
        .internal()?;
    let signals = runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
        ))
    });
    let (mut term, mut int) = signals.context("cannot wait for signals").internal()?;
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
    bale_app::supervise(home, isolation, &options, &shutdown, &|verb, text| {
        printer.status(verb, text)
    })?;
    printer.status("Stopped", "supervising; the services keep running");
    Ok(())
}
