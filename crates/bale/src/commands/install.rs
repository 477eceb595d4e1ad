//! `bale install FILE.bale | COORDINATE | URL`: verify and install into the store.

use bale_app::PackageRef;
use bale_store::{InstallOptions, InstallOutcome, Store};

use anyhow::Context;

use crate::cli::InstallArgs;
use crate::exit::{Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: InstallArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let home = machine.home()?;
    // A URL or a coordinate is fetched into scratch first; the store checks it.
    let is_url = args.target.starts_with("http://") || args.target.starts_with("https://");
    let (_scratch, path) = if is_url {
        let (scratch, archive) = fetch_url(machine, &args, printer)?;
        (Some(scratch), archive)
    } else {
        match super::deploy::package_ref(&args.target)? {
            PackageRef::File(path) => (None, path),
            PackageRef::Installed(coordinate) => {
                let (scratch, archive) = super::repo::fetch_for_install(
                    machine,
                    &coordinate,
                    args.repo.clone(),
                    printer,
                )?;
                (Some(scratch), archive)
            }
        }
    };
    let path = path.as_path();
    let store = Store::new(home.clone());
    let spinner = printer.spinner(&format!("installing {}", path.display()));
    let installed = store.install(
        path,
        &InstallOptions {
            allow_unsigned: args.allow_unsigned,
        },
    );
    spinner.finish_and_clear();
    let installed = installed?;
    let already = installed.outcome == InstallOutcome::AlreadyPresent;
    if printer.json() {
        return printer.print_json(&serde_json::json!({
            "coordinate": installed.coordinate.to_string(), "dir": installed.dir, "already_installed": already,
        }));
    }
    if already {
        printer.status(
            "Unchanged",
            format!(
                "{} is already installed at {}",
                installed.coordinate,
                installed.dir.display()
            ),
        );
    } else {
        printer.status(
            "Installed",
            format!("{} at {}", installed.coordinate, installed.dir.display()),
        );
    }
    Ok(())
}

/// Downloads the package at the URL `args.target` (and its signature) into a scratch directory.
fn fetch_url(
    machine: &Machine,
    args: &InstallArgs,
    printer: &Printer,
) -> Result<(tempfile::TempDir, std::path::PathBuf), Failure> {
    let tmp = machine.home()?.tmp_dir();
    std::fs::create_dir_all(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))
        .internal()?;
    let scratch = tempfile::Builder::new()
        .prefix("fetch-")
        .tempdir_in(&tmp)
        .internal()?;
    let bar = printer.bytes_bar("Downloading", 0);
    let progress = |done: u64, total: Option<u64>| {
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(done);
    };
    let fetched = machine.runtime()?.block_on(bale_repo::fetch_url(
        &args.target,
        scratch.path(),
        bale_repo::MAX_PACKAGE_BYTES,
        args.allow_unsigned,
        &progress,
    ));
    bar.finish_and_clear();
    let fetched = fetched?;
    Ok((scratch, fetched.archive))
}
