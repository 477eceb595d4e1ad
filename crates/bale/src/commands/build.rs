//! `bale build [DIR]`: a sandboxed build into OUT/NAME-VERSION.bale.

use crate::cli::BuildArgs;
use crate::exit::Failure;
use crate::printer::Printer;

pub fn run(_args: BuildArgs, _printer: &Printer) -> Result<(), Failure> {
    Err(Failure::user(anyhow::anyhow!("bale build is not available yet")))
}
