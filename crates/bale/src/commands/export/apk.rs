//! `bale export apk`.

use bale_export::apk;

use crate::cli::ExportApkArgs;
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: ExportApkArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let (_scratch, package) = super::open(&args.target, machine, printer)?;
    let options = apk::Options {
        out: super::out_dir(&args.target),
        key: args.key.clone(),
    };
    let written = apk::export(&package, &options)?;
    super::report(&written, printer)
}
