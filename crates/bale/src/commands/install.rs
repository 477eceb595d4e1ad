//! `bale install FILE.bale`: verify and install into the store.

use bale_app::PackageRef;
use bale_store::{InstallOptions, InstallOutcome, Store};

use crate::cli::InstallArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: InstallArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let home = machine.home()?;
    // A coordinate is fetched (signature and hashes checked) into scratch first.
    let (_scratch, path) = match super::deploy::package_ref(&args.target)? {
        PackageRef::File(path) => (None, path),
        PackageRef::Installed(coordinate) => {
            let (scratch, archive) =
                super::repo::fetch_for_install(machine, &coordinate, args.repo.clone(), printer)?;
            (Some(scratch), archive)
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
