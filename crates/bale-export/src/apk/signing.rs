//! The RSA key that signs an apk, and the name apk finds its public half
//! under: `/etc/apk/keys/<name>`, the same name the signature's file carries
//! (`.SIGN.RSA256.<name>`).
//!
//! Errors name the key file and what is wrong with it, never its content.

use std::path::{Path, PathBuf};

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use sha2::{Digest, Sha256};

use crate::ExportError;

/// Smallest modulus accepted: what abuild-keygen and every current
/// recommendation use as the floor.
const MIN_BITS: usize = 2048;

/// A private key read from a PEM file.
pub(crate) struct SigningKey {
    key: RsaPrivateKey,
    name: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key itself never reaches a log.
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Reads an unencrypted RSA private key, PKCS#8 (`openssl genrsa` of
    /// OpenSSL 3) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub(crate) fn read(path: &Path) -> Result<SigningKey, ExportError> {
        let bad = |what: &str| ExportError::Refused(format!("{}: {what}", path.display()));
        let name = public_key_name(path)?;
        // A key that cannot be read is the caller's to fix, not bale's.
        let bytes = std::fs::read(path).map_err(|e| bad(&format!("cannot read the key: {e}")))?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            bad("is not a PEM file; make a key with `openssl genrsa -out KEY.pem 4096`")
        })?;
        let encrypted = text.lines().any(|l| {
            l.starts_with("-----BEGIN ENCRYPTED")
                || (l.starts_with("Proc-Type:") && l.contains("ENCRYPTED"))
        });
        if encrypted {
            return Err(bad(
                "is encrypted; write an unencrypted copy with `openssl pkey -in KEY -out KEY.pem` \
                 and keep it where only the signer can read it",
            ));
        }
        let key = if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
            RsaPrivateKey::from_pkcs1_pem(text)
                .map_err(|e| bad(&format!("is not a valid PKCS#1 RSA private key ({e})")))?
        } else if text.contains("-----BEGIN PRIVATE KEY-----") {
            RsaPrivateKey::from_pkcs8_pem(text).map_err(|e| {
                bad(&format!(
                    "is not an RSA private key ({e}); apk verifies RSA signatures only: \
                     make one with `openssl genrsa -out KEY.pem 4096`"
                ))
            })?
        } else {
            return Err(bad(
                "holds no PEM private key (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`); \
                 make one with `openssl genrsa -out KEY.pem 4096`",
            ));
        };
        let bits = key.size() * 8;
        if bits < MIN_BITS {
            return Err(bad(&format!(
                "is a {bits}-bit key; use one of at least {MIN_BITS} bits \
                 (`openssl genrsa -out KEY.pem 4096`)"
            )));
        }
        Ok(SigningKey { key, name })
    }

    /// The public key's file name in `/etc/apk/keys/`: `<key name>.rsa.pub`.
    pub(crate) fn public_name(&self) -> &str {
        &self.name
    }

    /// The public key, PEM (`BEGIN PUBLIC KEY`), as apk loads it from `/etc/apk/keys/`.
    pub(crate) fn public_pem(&self) -> Result<String, ExportError> {
        self.key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| ExportError::Refused(format!("cannot encode the public key: {e}")))
    }

    /// The RSA PKCS#1 v1.5 SHA-256 signature of `message` (deterministic).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>, ExportError> {
        let digest = Sha256::digest(message);
        self.key
            .sign(Pkcs1v15Sign::new::<Sha256>(), &digest)
            .map_err(|e| ExportError::Refused(format!("cannot sign with {}: {e}", self.name)))
    }
}

/// `<stem>.rsa.pub` for a key file `<stem>.pem`, `<stem>.rsa`, `<stem>.key`
/// or `<stem>`: the name abuild gives a key's public half, and one that is
/// safe as a tar entry and a file name.
fn public_key_name(path: &Path) -> Result<String, ExportError> {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    let stem = [".pem", ".rsa", ".key", ".priv"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext))
        .unwrap_or(file);
    let ok = !stem.is_empty()
        && !stem.starts_with('.')
        && stem.len() <= 64
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if ok {
        Ok(format!("{stem}.rsa.pub"))
    } else {
        Err(ExportError::Refused(format!(
            "{}: the key file's name names the public key apk looks for in /etc/apk/keys; \
             use a name of letters, digits, `.`, `_`, `-` and `@` (e.g. `packager-2026.pem`)",
            PathBuf::from(file).display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_key_is_named_after_the_key_file() {
        for (file, name) in [
            (
                "/keys/me@example.org-6165ee59.rsa",
                "me@example.org-6165ee59.rsa.pub",
            ),
            ("packager.pem", "packager.rsa.pub"),
            ("signer", "signer.rsa.pub"),
        ] {
            assert_eq!(public_key_name(Path::new(file)).unwrap(), name);
        }
        for bad in ["a b.pem", ".pem", "x\ny.pem", "../"] {
            assert!(public_key_name(Path::new(bad)).is_err(), "{bad:?}");
        }
    }
}
