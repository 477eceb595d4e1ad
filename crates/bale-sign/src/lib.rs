//! Ed25519 keys and signatures in minisign's format, and the keys a machine trusts.
//!
//! A package is signed with [`sign`] into a [`Signature`] whose
//! [`Signature::to_file_string`] is a `.minisig` file that `minisign -V`
//! verifies; keys are written and read in minisign's key file formats, so a
//! key made by `minisign -G -W` works with bale and the other way round; so
//! does a password-protected one (`minisign -G`, [`write_encrypted_key_pair`])
//! when its password is given.
//! Format: <https://jedisct1.github.io/minisign/>.

use std::path::PathBuf;

mod beside;
mod encrypted;
mod error;
mod files;
#[doc(hidden)]
pub mod fuzzing;
mod key;
mod keyring;
mod message;
mod signature;

pub use beside::{read_signature, sign_file, signature_path};
pub use encrypted::KdfLimits;
pub use error::SignError;
pub use files::{write_encrypted_key_pair, write_key_pair};
pub use key::{KeyId, KeyPair, PublicKey, SecretKey};
pub use keyring::{Keyring, TrustedKey};
pub use signature::{default_trusted_comment, sign, verify, Signature, SignatureAlgorithm};

/// The paths [`write_key_pair`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFiles {
    /// `NAME.key`, the secret key, mode 0600.
    pub secret: PathBuf,
    /// `NAME.pub`, the public key to hand out.
    pub public: PathBuf,
}
