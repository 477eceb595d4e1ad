//! Keys in minisign's formats.
//!
//! A public key is `base64("Ed" || key_id || public_key)`. A secret key is
//! `base64("Ed" || kdf || "B2" || salt || opslimit || memlimit || key_id ||
//! seed || public_key || checksum)`, where an unencrypted key has a kdf of two
//! zero bytes and the checksum is BLAKE2b-256 of `"Ed" || key_id || seed ||
//! public_key`.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroize;

use crate::encrypted::{key_stream, KdfLimits};
use crate::SignError;

/// minisign's name for Ed25519, at the start of every key.
pub(crate) const KEY_ALGORITHM: &[u8; 2] = b"Ed";
/// The kdf field of a secret key stored without a password.
const KDF_NONE: [u8; 2] = [0, 0];
/// The kdf field of a password-protected secret key (scrypt).
const KDF_SCRYPT: &[u8; 2] = b"Sc";
/// The checksum algorithm of a secret key (BLAKE2b-256).
const CHECKSUM_ALGORITHM: &[u8; 2] = b"B2";
/// Length of a decoded public key: algorithm, key id, key.
const PUBLIC_KEY_LEN: usize = 2 + 8 + 32;
/// Offsets in a decoded secret key.
const SK_KDF: usize = 2;
const SK_CHECKSUM_ALGORITHM: usize = 4;
const SK_SALT: usize = 6;
const SK_OPSLIMIT: usize = SK_SALT + 32;
const SK_MEMLIMIT: usize = SK_OPSLIMIT + 8;
const SK_KEY_ID: usize = SK_MEMLIMIT + 8;
const SK_KEYPAIR: usize = SK_KEY_ID + 8;
const SK_CHECKSUM: usize = SK_KEYPAIR + 64;
const SECRET_KEY_LEN: usize = SK_CHECKSUM + 32;
/// Where a key file's comment line starts.
pub(crate) const UNTRUSTED_PREFIX: &str = "untrusted comment: ";

/// The 8-byte id minisign gives a key pair; signatures name their key by it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The raw bytes, as stored in key and signature files.
    pub fn as_bytes(&self) -> &[u8; 8] {
        &self.0
    }
}

/// Upper-case hex of the id read as a little-endian number, as minisign shows it.
impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As minisign prints it (`%" PRIX64 "`): upper-case hex, no leading zeros.
        write!(f, "{:X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A public key: verifies signatures made with its secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key_id: KeyId,
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({} {})", self.key_id, self.to_base64())
    }
}

impl PublicKey {
    /// The key's id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The key as one base64 string, what `minisign -P` takes.
    pub fn to_base64(&self) -> String {
        let mut bytes = Vec::with_capacity(PUBLIC_KEY_LEN);
        bytes.extend_from_slice(KEY_ALGORITHM);
        bytes.extend_from_slice(&self.key_id.0);
        bytes.extend_from_slice(self.key.as_bytes());
        BASE64.encode(bytes)
    }

    /// Reads the base64 string of a public key (the second line of a `.pub` file).
    pub fn from_base64(text: &str) -> Result<PublicKey, SignError> {
        let malformed = |reason: &str| SignError::Malformed {
            what: "public key",
            reason: reason.to_owned(),
        };
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|_| malformed("the key is not valid base64"))?;
        if bytes.len() != PUBLIC_KEY_LEN {
            return Err(malformed(&format!(
                "a key is {PUBLIC_KEY_LEN} bytes, this one is {}",
                bytes.len()
            )));
        }
        if &bytes[..2] != KEY_ALGORITHM {
            return Err(malformed(
                "only Ed25519 keys (\"Ed\") exist in minisign's format",
            ));
        }
        let key_id = KeyId(array(&bytes[2..10]));
        let key = VerifyingKey::from_bytes(&array(&bytes[10..]))
            .map_err(|_| malformed("the bytes are not an Ed25519 public key"))?;
        Ok(PublicKey { key_id, key })
    }

    /// The `.pub` file: `untrusted comment: minisign public key <ID>` and the key.
    pub fn to_file_string(&self) -> String {
        format!(
            "{UNTRUSTED_PREFIX}minisign public key {}\n{}\n",
            self.key_id,
            self.to_base64()
        )
    }

    /// Reads a `.pub` file; a bare base64 line is accepted too.
    pub fn from_file_string(text: &str) -> Result<PublicKey, SignError> {
        PublicKey::from_base64(key_line(text, "public key")?)
    }

    /// The Ed25519 key, for checking signatures.
    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// A secret key: signs packages. Kept on disk with mode 0600, unencrypted or
/// protected by a password.
#[derive(Clone)]
pub struct SecretKey {
    key_id: KeyId,
    key: SigningKey,
}

/// Never prints the key itself.
impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.key_id)
    }
}

impl SecretKey {
    /// The key's id, the same as its public key's.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public half of this key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// The secret key file, unencrypted, as `minisign -G -W` writes it.
    pub fn to_file_string(&self) -> String {
        let mut bytes = Vec::with_capacity(SECRET_KEY_LEN);
        bytes.extend_from_slice(KEY_ALGORITHM);
        bytes.extend_from_slice(&KDF_NONE);
        bytes.extend_from_slice(CHECKSUM_ALGORITHM);
        // Salt, opslimit and memlimit mean nothing without a kdf: zeros, as minisign writes.
        bytes.resize(SK_KEY_ID, 0);
        bytes.extend_from_slice(&self.key_id.0);
        bytes.extend_from_slice(&self.key.to_keypair_bytes());
        bytes.extend_from_slice(&self.checksum());
        let text = format!(
            "{UNTRUSTED_PREFIX}minisign secret key {}, unencrypted\n{}\n",
            self.key_id,
            BASE64.encode(&bytes)
        );
        bytes.zeroize();
        text
    }

    /// The secret key file protected by `password`, as `minisign -G` writes
    /// it: minisign signs with it given the password, and so does bale.
    pub fn to_encrypted_file_string(
        &self,
        password: &[u8],
        limits: KdfLimits,
    ) -> Result<String, SignError> {
        let mut salt = [0u8; 32];
        getrandom::fill(&mut salt).map_err(SignError::Random)?;
        let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(SECRET_KEY_LEN));
        bytes.extend_from_slice(KEY_ALGORITHM);
        bytes.extend_from_slice(KDF_SCRYPT);
        bytes.extend_from_slice(CHECKSUM_ALGORITHM);
        bytes.extend_from_slice(&salt);
        bytes.extend_from_slice(&limits.opslimit.to_le_bytes());
        bytes.extend_from_slice(&limits.memlimit.to_le_bytes());
        bytes.extend_from_slice(&self.key_id.0);
        bytes.extend_from_slice(&self.key.to_keypair_bytes());
        bytes.extend_from_slice(&self.checksum());
        let stream = key_stream(password, &salt, limits, SECRET_KEY_LEN - SK_KEY_ID)?;
        for (byte, mask) in bytes[SK_KEY_ID..].iter_mut().zip(stream.iter()) {
            *byte ^= mask;
        }
        Ok(format!(
            "{UNTRUSTED_PREFIX}minisign encrypted secret key\n{}\n",
            BASE64.encode(&bytes[..])
        ))
    }

    /// Whether a secret key file is protected by a password.
    pub fn file_is_encrypted(text: &str) -> bool {
        key_line(text, "secret key")
            .ok()
            .and_then(|line| BASE64.decode(line).ok())
            .is_some_and(|bytes| bytes.get(SK_KDF..SK_KDF + 2) == Some(KDF_SCRYPT.as_slice()))
    }

    /// Reads an unencrypted minisign secret key file.
    ///
    /// A password-protected key is refused with [`SignError::EncryptedSecretKey`];
    /// [`SecretKey::from_file_string_with_password`] reads those.
    pub fn from_file_string(text: &str) -> Result<SecretKey, SignError> {
        SecretKey::read(text, None)
    }

    /// Reads a minisign secret key file, unencrypted or protected by `password`.
    ///
    /// A wrong password is [`SignError::WrongPassword`].
    pub fn from_file_string_with_password(
        text: &str,
        password: &[u8],
    ) -> Result<SecretKey, SignError> {
        SecretKey::read(text, Some(password))
    }

    fn read(text: &str, password: Option<&[u8]>) -> Result<SecretKey, SignError> {
        let malformed = |reason: &str| SignError::Malformed {
            what: "secret key",
            reason: reason.to_owned(),
        };
        let mut bytes = BASE64
            .decode(key_line(text, "secret key")?)
            .map_err(|_| malformed("the key is not valid base64"))?;
        let key = SecretKey::from_bytes(&mut bytes, password, malformed);
        bytes.zeroize();
        key
    }

    /// Decodes the bytes of a secret key file, decrypting them in place
    /// when they are encrypted and a password is given.
    fn from_bytes(
        bytes: &mut [u8],
        password: Option<&[u8]>,
        malformed: impl Fn(&str) -> SignError,
    ) -> Result<SecretKey, SignError> {
        if bytes.len() != SECRET_KEY_LEN {
            return Err(malformed(&format!(
                "a key is {SECRET_KEY_LEN} bytes, this one is {}",
                bytes.len()
            )));
        }
        if &bytes[..2] != KEY_ALGORITHM {
            return Err(malformed(
                "only Ed25519 keys (\"Ed\") exist in minisign's format",
            ));
        }
        let encrypted = &bytes[SK_KDF..SK_KDF + 2] == KDF_SCRYPT;
        if encrypted {
            let Some(password) = password else {
                return Err(SignError::EncryptedSecretKey);
            };
            let limits = KdfLimits {
                opslimit: u64::from_le_bytes(array(&bytes[SK_OPSLIMIT..SK_MEMLIMIT])),
                memlimit: u64::from_le_bytes(array(&bytes[SK_MEMLIMIT..SK_KEY_ID])),
            };
            let stream = key_stream(
                password,
                &bytes[SK_SALT..SK_OPSLIMIT],
                limits,
                SECRET_KEY_LEN - SK_KEY_ID,
            )?;
            for (byte, mask) in bytes[SK_KEY_ID..].iter_mut().zip(stream.iter()) {
                *byte ^= mask;
            }
        } else if bytes[SK_KDF..SK_KDF + 2] != KDF_NONE {
            return Err(malformed("unknown key derivation algorithm"));
        }
        if &bytes[SK_CHECKSUM_ALGORITHM..SK_CHECKSUM_ALGORITHM + 2] != CHECKSUM_ALGORITHM {
            return Err(malformed("unknown checksum algorithm"));
        }
        let key_id = KeyId(array(&bytes[SK_KEY_ID..SK_KEYPAIR]));
        // A wrong password decrypts to noise: the checksum, not the key pair, says so.
        let mut checksum = Blake2b::<U32>::new();
        checksum.update(KEY_ALGORITHM);
        checksum.update(&bytes[SK_KEY_ID..SK_CHECKSUM]);
        let computed: [u8; 32] = checksum.finalize().into();
        let stored = &bytes[SK_CHECKSUM..];
        if encrypted && stored != computed.as_slice() {
            return Err(SignError::WrongPassword);
        }
        // minisign 0.11 leaves the checksum of an unencrypted key as zeros.
        if stored.iter().any(|&b| b != 0) && stored != computed.as_slice() {
            return Err(SignError::CorruptSecretKey("its checksum does not match"));
        }
        let key = SigningKey::from_keypair_bytes(&array(&bytes[SK_KEYPAIR..SK_CHECKSUM])).map_err(
            |_| SignError::CorruptSecretKey("its public half does not match its secret half"),
        )?;
        Ok(SecretKey { key_id, key })
    }

    /// BLAKE2b-256 of algorithm, key id and key pair, as minisign computes it.
    fn checksum(&self) -> [u8; 32] {
        let mut hasher = Blake2b::<U32>::new();
        hasher.update(KEY_ALGORITHM);
        hasher.update(self.key_id.0);
        hasher.update(self.key.to_keypair_bytes());
        hasher.finalize().into()
    }

    /// The Ed25519 key, for signing.
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.key
    }
}

/// A new secret key and its public key.
#[derive(Debug, Clone)]
pub struct KeyPair {
    /// The public key, to hand out.
    pub public: PublicKey,
    /// The secret key, to keep.
    pub secret: SecretKey,
}

impl KeyPair {
    /// Makes a new key pair from the operating system's random number generator.
    pub fn generate() -> Result<KeyPair, SignError> {
        let mut seed = [0u8; 32];
        let mut key_id = [0u8; 8];
        getrandom::fill(&mut seed).map_err(SignError::Random)?;
        getrandom::fill(&mut key_id).map_err(SignError::Random)?;
        let secret = SecretKey {
            key_id: KeyId(key_id),
            key: SigningKey::from_bytes(&seed),
        };
        seed.zeroize();
        Ok(KeyPair {
            public: secret.public_key(),
            secret,
        })
    }
}

/// The base64 line of a key file: the first line that is not a comment.
fn key_line<'a>(text: &'a str, what: &'static str) -> Result<&'a str, SignError> {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with(UNTRUSTED_PREFIX.trim_end()))
        .ok_or(SignError::Malformed {
            what,
            reason: "the file has no key line".to_owned(),
        })
}

/// Copies a slice whose length the caller has checked into an array.
pub(crate) fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::KeyId;

    /// minisign prints ids with `%" PRIX64 "`: a leading zero nibble is not shown,
    /// and bale's `.pub` comments must match minisign's byte for byte.
    #[test]
    fn a_key_id_with_a_leading_zero_prints_as_minisign_prints_it() {
        let id = KeyId([0xA8, 0xF4, 0x73, 0x45, 0x26, 0x0F, 0xB4, 0x06]);
        assert_eq!(id.to_string(), "6B40F264573F4A8");
        assert_eq!(
            KeyId([0x01, 0, 0, 0, 0, 0, 0, 0x10]).to_string(),
            "1000000000000001"
        );
    }
}
