//! The signature of a package file: `<file>.minisig`, next to the file.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::files::{io_error, write_atomic, PUBLIC_MODE};
use crate::signature::{default_trusted_comment, sign};
use crate::{SecretKey, SignError, Signature};

/// Where the signature of `file` lives: `<file>.minisig` beside it.
pub fn signature_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".minisig");
    PathBuf::from(name)
}

/// Reads and parses the signature beside `file`; `None` when there is none.
pub fn read_signature(file: &Path) -> Result<Option<Signature>, SignError> {
    let path = signature_path(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Signature::from_file_string(&text).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(&path, e)),
    }
}

/// Signs `file` with minisign's default trusted comment for `unix_secs`, and
/// writes the signature beside it atomically; returns the signature's path.
pub fn sign_file(key: &SecretKey, file: &Path, unix_secs: u64) -> Result<PathBuf, SignError> {
    let data = File::open(file).map_err(|e| io_error(file, e))?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("package");
    let signature = sign(key, data, &default_trusted_comment(name, unix_secs))?;
    let path = signature_path(file);
    write_atomic(
        &path,
        signature.to_file_string().as_bytes(),
        PUBLIC_MODE,
        true,
    )?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{verify, KeyPair};

    #[test]
    fn a_signed_file_reads_back_its_signature_which_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hello-1.0.bale");
        std::fs::write(&file, b"package bytes").unwrap();
        assert!(read_signature(&file).unwrap().is_none());
        let pair = KeyPair::generate().unwrap();
        let path = sign_file(&pair.secret, &file, 1_700_000_000).unwrap();
        assert_eq!(path, dir.path().join("hello-1.0.bale.minisig"));
        let signature = read_signature(&file).unwrap().expect("a signature");
        assert!(signature.trusted_comment().contains("file:hello-1.0.bale"));
        verify(&pair.public, File::open(&file).unwrap(), &signature).unwrap();
    }
}
