//! `bale export deb`.

use bale_export::deb;

use crate::cli::ExportDebArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: ExportDebArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let (_scratch, package) = super::open(&args.target, machine, printer)?;
    let options = deb::Options {
        out: super::out_dir(&args.target),
    };
    let written = deb::export(&package, &options)?;
    super::report(&written, printer)
}
