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
    super::report(&written, printer)?;
    // apk refuses a package whose key it does not trust: say where it goes.
    if let [apk_file, public_key] = written.as_slice() {
        if let Some(name) = public_key.path.file_name() {
            printer.status(
                "Install",
                format!(
                    "with `cp {} /etc/apk/keys/{}` then `apk add {}`",
                    public_key.path.display(),
                    name.to_string_lossy(),
                    apk_file.path.display()
                ),
            );
        }
    }
    Ok(())
}
