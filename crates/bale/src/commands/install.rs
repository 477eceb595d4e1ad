//! `bale install FILE.bale`: verify and install into the store.

use std::path::Path;

use bale_deploy::{InstallOptions, InstallOutcome, Store};

use crate::cli::InstallArgs;
use crate::exit::{refuse, Failure};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: InstallArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let home = machine.home()?;
    let given = Path::new(&args.target);
    // A coordinate is fetched (signature and hashes checked) into scratch first.
    let (_scratch, path) = if given.is_file() || args.target.ends_with(".bale") {
        if !given.is_file() {
            refuse!("{} is not a package file", given.display());
        }
        (None, given.to_path_buf())
    } else {
        let (scratch, archive) =
            super::repo::fetch_for_install(machine, &args.target, args.repo.clone(), printer)?;
        (Some(scratch), archive)
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
