//! `bale export oci`.

use bale_export::oci;

use crate::cli::ExportOciArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: ExportOciArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let (_scratch, package) = super::open(&args.target, machine, printer)?;
    let options = oci::Options {
        out: super::out_dir(&args.target),
        tag: args.tag.clone(),
    };
    let written = oci::export(&package, &options)?;
    super::report(&written, printer)
}
