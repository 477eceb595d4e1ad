//! `SOURCE_DATE_EPOCH` of a package: the mtime its writer gave every entry
//! (the source commit's time, or 0), read from the first tar header.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::ExportError;

/// The mtime of the package's first entry (`.bale/`), which every entry shares.
pub(crate) fn source_date_epoch(file: &Path) -> Result<u64, ExportError> {
    let input = File::open(file).map_err(|e| ExportError::io(file, e))?;
    let mut decoder = zstd::Decoder::new(input).map_err(|e| ExportError::io(file, e))?;
    let mut header = [0u8; 512];
    decoder
        .read_exact(&mut header)
        .map_err(|e| ExportError::io(file, e))?;
    let field = &header[136..148];
    let digits: String = field
        .iter()
        .take_while(|&&b| b != 0 && b != b' ')
        .map(|&b| b as char)
        .collect();
    u64::from_str_radix(digits.trim_start(), 8).map_err(|_| {
        ExportError::Refused(format!(
            "{}: the first entry's mtime is not octal; the package is damaged",
            file.display()
        ))
    })
}
