//! The one error type of this crate.

use std::path::PathBuf;

use crate::KeyId;

/// What went wrong with a key, a signature or the keyring.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A key or keyring file could not be read or written.
    #[error("cannot access {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The data being signed or verified could not be read.
    #[error("cannot read the data to sign or verify")]
    ReadData(#[source] std::io::Error),
    /// The operating system could not provide random bytes for a new key.
    #[error("the operating system's random number generator failed ({0}); a key cannot be made safely without it")]
    Random(getrandom::Error),
    /// A key or signature file is not in minisign's format.
    #[error("this is not a minisign {what}: {reason}")]
    Malformed {
        /// What was being read: "public key", "secret key" or "signature".
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The secret key is protected by a password and none was given.
    #[error("this secret key is encrypted with a password and none was given: set BALE_KEY_PASSWORD_FILE to a file holding the password (or BALE_KEY_PASSWORD), or use an unencrypted key (`bale key generate`, `minisign -G -W`)")]
    EncryptedSecretKey,
    /// The password given does not decrypt the secret key.
    #[error("the password does not open this secret key (its checksum does not match after decryption): check BALE_KEY_PASSWORD_FILE or BALE_KEY_PASSWORD")]
    WrongPassword,
    /// The secret key's checksum or its embedded public half does not match.
    #[error("the secret key is corrupt ({0}); restore it from a backup")]
    CorruptSecretKey(&'static str),
    /// A trusted comment that minisign's format cannot carry.
    #[error("invalid trusted comment: {0}")]
    InvalidComment(String),
    /// The signature names a different key than the one given.
    #[error("the signature was made by key {signed_by}, not by key {given}; verify with the public key {signed_by}")]
    WrongKey {
        /// The key id in the signature.
        signed_by: KeyId,
        /// The key id of the public key given.
        given: KeyId,
    },
    /// The signature does not match the data.
    #[error("the signature does not match the data: the file changed after it was signed, or the signature belongs to another file")]
    BadSignature,
    /// The trusted comment does not match the global signature.
    #[error("the trusted comment does not match its signature: the .minisig file was altered after signing")]
    BadTrustedComment,
    /// No trusted key has the signature's key id.
    #[error("the signature was made by key {0}, which this machine does not trust; if you trust its publisher, run `bale key trust FILE.pub` with their public key")]
    UntrustedKey(KeyId),
    /// `write_key_pair` found a secret key of that name already.
    #[error("{0} already exists and bale never overwrites a secret key; choose another name or move the old key away")]
    SecretKeyExists(PathBuf),
    /// A key name that cannot be a file name in the keyring.
    #[error(
        "invalid key name `{}`: use letters, digits, '.', '-' and '_', not starting with '.'", .0.escape_debug()
    )]
    InvalidKeyName(String),
    /// The keyring already holds a different key under that name.
    #[error("{path} already holds a different key ({existing}); choose another name or remove that file first")]
    KeyNameTaken {
        /// The existing `NAME.pub`.
        path: PathBuf,
        /// The id of the key already there.
        existing: KeyId,
    },
    /// A `.pub` file in the keyring directory could not be parsed.
    #[error("{path} is in the keyring but is not a minisign public key; fix or remove it")]
    InvalidKeyringFile {
        /// The bad file.
        path: PathBuf,
        /// Why it could not be read.
        source: Box<SignError>,
    },
}

impl SignError {
    /// Whether bale itself failed (the system's random source), not the
    /// user's keys, files or signatures.
    pub fn is_internal(&self) -> bool {
        matches!(self, SignError::Random(_))
    }
}
