//! The public keys a machine trusts: one `NAME.pub` file each in a directory.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::files::{
    check_key_name, io_error, public_key_path, read_text, write_atomic, PUBLIC_MODE,
};
use crate::{verify, KeyId, PublicKey, SignError, Signature};

/// One trusted key and the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    /// The file name without `.pub`.
    pub name: String,
    /// The key.
    pub public_key: PublicKey,
    /// The `.pub` file.
    pub path: PathBuf,
}

/// The keys a machine trusts to sign packages.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    keys: Vec<TrustedKey>,
}

impl Keyring {
    /// Reads every `*.pub` file in `dir`, in name order; a missing directory is an empty keyring.
    ///
    /// A `.pub` file that does not parse is an error naming it, rather than
    /// being skipped: a trust store that silently loses keys is worse.
    pub fn load(dir: &Path) -> Result<Keyring, SignError> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Keyring::default()),
            Err(error) => return Err(io_error(dir, error)),
        };
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| io_error(dir, source))?;
            let path = entry.path();
            let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(|file| file.strip_suffix(".pub"))
                .map(str::to_owned)
            else {
                continue;
            };
            if name.is_empty() || name.starts_with('.') || !path.is_file() {
                continue;
            }
            let public_key = PublicKey::from_file_string(&read_text(&path)?).map_err(|error| {
                SignError::InvalidKeyringFile {
                    path: path.clone(),
                    source: Box::new(error),
                }
            })?;
            keys.push(TrustedKey {
                name,
                public_key,
                path,
            });
        }
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Keyring { keys })
    }

    /// Trusts a key: writes `dir/NAME.pub` atomically and returns its path.
    ///
    /// Adding the same key under the same name again changes nothing; a
    /// different key under a name already in use is refused.
    pub fn add(dir: &Path, key: &PublicKey, name: &str) -> Result<PathBuf, SignError> {
        check_key_name(name)?;
        fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
        let path = public_key_path(dir, name);
        if path.exists() {
            let existing = PublicKey::from_file_string(&read_text(&path)?).map_err(|error| {
                SignError::InvalidKeyringFile {
                    path: path.clone(),
                    source: Box::new(error),
                }
            })?;
            if &existing == key {
                return Ok(path);
            }
            return Err(SignError::KeyNameTaken {
                path,
                existing: existing.key_id(),
            });
        }
        write_atomic(&path, key.to_file_string().as_bytes(), PUBLIC_MODE, true)?;
        Ok(path)
    }

    /// The trusted keys, in name order.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// The trusted key with this id, if any.
    pub fn get(&self, key_id: KeyId) -> Option<&PublicKey> {
        self.keys
            .iter()
            .map(|trusted| &trusted.public_key)
            .find(|key| key.key_id() == key_id)
    }

    /// Verifies a signature with the trusted key it names and returns that key.
    pub fn verify(&self, data: impl Read, sig: &Signature) -> Result<&PublicKey, SignError> {
        let key = self
            .get(sig.key_id())
            .ok_or(SignError::UntrustedKey(sig.key_id()))?;
        verify(key, data, sig)?;
        Ok(key)
    }
}
