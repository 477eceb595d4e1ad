//! Key files on disk, written atomically.

use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::{KdfLimits, KeyFiles, KeyPair, SignError};

/// Mode of a secret key file: readable by its owner only.
const SECRET_MODE: u32 = 0o600;
/// Mode of a public key file.
pub(crate) const PUBLIC_MODE: u32 = 0o644;
/// Mode of a directory bale creates to hold secret keys.
const SECRET_DIR_MODE: u32 = 0o700;

/// Writes `NAME.key` (mode 0600) and `NAME.pub` into `dir`, creating it (0700) if needed.
///
/// Refuses to overwrite an existing `NAME.key`: losing a signing key is
/// not undoable. An existing `NAME.pub` is replaced, since it derives from the key.
pub fn write_key_pair(dir: &Path, name: &str, pair: &KeyPair) -> Result<KeyFiles, SignError> {
    write_pair(dir, name, pair, &pair.secret.to_file_string())
}

/// [`write_key_pair`] with the secret key protected by `password`, with
/// minisign's own derivation limits ([`KdfLimits::MINISIGN`]) unless told.
pub fn write_encrypted_key_pair(
    dir: &Path,
    name: &str,
    pair: &KeyPair,
    password: &[u8],
    limits: KdfLimits,
) -> Result<KeyFiles, SignError> {
    check_key_name(name)?;
    let text = zeroize::Zeroizing::new(pair.secret.to_encrypted_file_string(password, limits)?);
    write_pair(dir, name, pair, &text)
}

fn write_pair(
    dir: &Path,
    name: &str,
    pair: &KeyPair,
    secret_text: &str,
) -> Result<KeyFiles, SignError> {
    check_key_name(name)?;
    DirBuilder::new()
        .recursive(true)
        .mode(SECRET_DIR_MODE)
        .create(dir)
        .map_err(|source| io_error(dir, source))?;
    let secret = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    if secret.symlink_metadata().is_ok() {
        return Err(SignError::SecretKeyExists(secret));
    }
    write_atomic(&secret, secret_text.as_bytes(), SECRET_MODE, false)?;
    write_atomic(
        &public,
        pair.public.to_file_string().as_bytes(),
        PUBLIC_MODE,
        true,
    )?;
    Ok(KeyFiles { secret, public })
}

/// Refuses names that are not a plain file name.
pub(crate) fn check_key_name(name: &str) -> Result<(), SignError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if name.is_empty() || name.starts_with('.') || !name.chars().all(allowed) {
        return Err(SignError::InvalidKeyName(name.to_owned()));
    }
    Ok(())
}

/// Writes a file through a temporary name in the same directory, fsync and rename.
///
/// With `replace` false an existing file is kept and the write fails with
/// [`SignError::SecretKeyExists`].
pub(crate) fn write_atomic(
    path: &Path,
    contents: &[u8],
    mode: u32,
    replace: bool,
) -> Result<(), SignError> {
    let write = bale_fs::AtomicWrite::new().mode(mode);
    let write = if replace {
        write
    } else {
        write.keep_existing()
    };
    write.write(path, contents).map_err(|e| {
        if !replace && e.kind() == io::ErrorKind::AlreadyExists {
            SignError::SecretKeyExists(path.to_owned())
        } else {
            io_error(&e.path, e.source)
        }
    })
}

/// An I/O error about a path.
pub(crate) fn io_error(path: &Path, source: io::Error) -> SignError {
    SignError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Reads a small text file.
pub(crate) fn read_text(path: &Path) -> Result<String, SignError> {
    fs::read_to_string(path).map_err(|source| io_error(path, source))
}

/// `dir/NAME.pub`.
pub(crate) fn public_key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.pub"))
}
