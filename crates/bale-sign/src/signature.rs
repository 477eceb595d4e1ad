//! Signatures in minisign's `.minisig` format.
//!
//! ```text
//! untrusted comment: <free text>
//! base64(algorithm || key_id || signature)
//! trusted comment: <text>
//! base64(global_signature)
//! ```
//!
//! With algorithm `ED` the signature covers BLAKE2b-512 of the file, so a
//! file of any size is hashed as a stream; legacy `Ed` signatures cover the
//! file itself. The global signature covers `signature || trusted comment`,
//! which is what makes the trusted comment trustworthy.

use std::fmt;
use std::io::{self, Read};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use blake2::{Blake2b512, Digest};
use ed25519_dalek::Signer;

use crate::key::{array, UNTRUSTED_PREFIX};
use crate::{KeyId, PublicKey, SecretKey, SignError};

/// Where the trusted comment line starts.
const TRUSTED_PREFIX: &str = "trusted comment: ";
/// Longest trusted comment bale writes; minisign reads lines of up to 8 KiB.
const TRUSTED_COMMENT_MAX: usize = 4096;
/// Length of the decoded signature line: algorithm, key id, signature.
const SIGNATURE_LEN: usize = 2 + 8 + 64;

/// What a signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// `ED`: the BLAKE2b-512 hash of the data. What bale writes.
    Prehashed,
    /// `Ed`: the data itself. Old minisign signatures; verified, never written.
    Legacy,
}

impl SignatureAlgorithm {
    /// The two bytes naming the algorithm in a signature.
    fn tag(self) -> &'static [u8; 2] {
        match self {
            SignatureAlgorithm::Prehashed => b"ED",
            SignatureAlgorithm::Legacy => b"Ed",
        }
    }
}

/// A detached signature, the content of a `.minisig` file.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature {
    untrusted_comment: String,
    algorithm: SignatureAlgorithm,
    key_id: KeyId,
    signature: [u8; 64],
    trusted_comment: String,
    global_signature: [u8; 64],
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("trusted_comment", &self.trusted_comment)
            .finish_non_exhaustive()
    }
}

impl Signature {
    /// The id of the key that made this signature.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The signed comment; only meaningful once [`verify`] has accepted the signature.
    pub fn trusted_comment(&self) -> &str {
        &self.trusted_comment
    }

    /// The unsigned comment, which anyone can change.
    pub fn untrusted_comment(&self) -> &str {
        &self.untrusted_comment
    }

    /// Whether the signature covers the data's hash or the data itself.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The `.minisig` file content.
    pub fn to_file_string(&self) -> String {
        let mut line = Vec::with_capacity(SIGNATURE_LEN);
        line.extend_from_slice(self.algorithm.tag());
        line.extend_from_slice(&self.key_id.0);
        line.extend_from_slice(&self.signature);
        format!(
            "{UNTRUSTED_PREFIX}{}\n{}\n{TRUSTED_PREFIX}{}\n{}\n",
            self.untrusted_comment,
            BASE64.encode(line),
            self.trusted_comment,
            BASE64.encode(self.global_signature)
        )
    }

    /// Reads a `.minisig` file.
    pub fn from_file_string(text: &str) -> Result<Signature, SignError> {
        let malformed = |reason: &str| SignError::Malformed {
            what: "signature",
            reason: reason.to_owned(),
        };
        // Every trailing `\r` goes, as minisign trims them: a comment kept
        // ending in `\r` would lose one each time it is written and read.
        let mut lines = text.split('\n').map(|line| line.trim_end_matches('\r'));
        let mut next = |what: &str| {
            lines
                .next()
                .ok_or_else(|| malformed(&format!("the file ends before the {what} line")))
        };
        let untrusted_comment = next("untrusted comment")?
            .strip_prefix(UNTRUSTED_PREFIX)
            .ok_or_else(|| malformed("the first line must start with \"untrusted comment: \""))?
            .to_owned();
        let line = BASE64
            .decode(next("signature")?.trim())
            .map_err(|_| malformed("the signature line is not valid base64"))?;
        let trusted_comment = next("trusted comment")?
            .strip_prefix(TRUSTED_PREFIX)
            .ok_or_else(|| malformed("the third line must start with \"trusted comment: \""))?
            .to_owned();
        let global = BASE64
            .decode(next("global signature")?.trim())
            .map_err(|_| malformed("the global signature line is not valid base64"))?;
        if line.len() != SIGNATURE_LEN {
            return Err(malformed(&format!(
                "the signature line holds {} bytes, not {SIGNATURE_LEN}",
                line.len()
            )));
        }
        if global.len() != 64 {
            return Err(malformed(&format!(
                "the global signature holds {} bytes, not 64",
                global.len()
            )));
        }
        let algorithm = match &line[..2] {
            b"ED" => SignatureAlgorithm::Prehashed,
            b"Ed" => SignatureAlgorithm::Legacy,
            _ => return Err(malformed("unknown signature algorithm (expected ED or Ed)")),
        };
        Ok(Signature {
            untrusted_comment,
            algorithm,
            key_id: KeyId(array(&line[2..10])),
            signature: array(&line[10..]),
            trusted_comment,
            global_signature: array(&global),
        })
    }

    /// The bytes the global signature covers.
    fn global_message(&self) -> Vec<u8> {
        let mut message = Vec::with_capacity(64 + self.trusted_comment.len());
        message.extend_from_slice(&self.signature);
        message.extend_from_slice(self.trusted_comment.as_bytes());
        message
    }
}

/// minisign's own trusted comment: `timestamp:<secs>\tfile:<name>\thashed`.
///
/// Pass a fixed `unix_secs` (e.g. `SOURCE_DATE_EPOCH`) for a reproducible signature.
pub fn default_trusted_comment(file_name: &str, unix_secs: u64) -> String {
    format!("timestamp:{unix_secs}\tfile:{file_name}\thashed")
}

/// Signs data, read as a stream, with the prehashed (`ED`) algorithm.
///
/// Ed25519 signatures are deterministic, so the same key, data and trusted
/// comment always give the same `.minisig` file.
pub fn sign(
    sk: &SecretKey,
    data: impl Read,
    trusted_comment: &str,
) -> Result<Signature, SignError> {
    check_trusted_comment(trusted_comment)?;
    let hash = hash(data)?;
    let key = sk.signing_key();
    let signature = key.sign(&hash).to_bytes();
    let mut signed = Signature {
        untrusted_comment: format!("signature from bale secret key {}", sk.key_id()),
        algorithm: SignatureAlgorithm::Prehashed,
        key_id: sk.key_id(),
        signature,
        trusted_comment: trusted_comment.to_owned(),
        global_signature: [0; 64],
    };
    signed.global_signature = key.sign(&signed.global_message()).to_bytes();
    Ok(signed)
}

/// Checks a signature, and its trusted comment, against the data and a public key.
///
/// Legacy `Ed` signatures cover the whole data, which is read into memory.
pub fn verify(pk: &PublicKey, mut data: impl Read, sig: &Signature) -> Result<(), SignError> {
    if sig.key_id != pk.key_id() {
        return Err(SignError::WrongKey {
            signed_by: sig.key_id,
            given: pk.key_id(),
        });
    }
    let message = match sig.algorithm {
        SignatureAlgorithm::Prehashed => hash(data)?.to_vec(),
        SignatureAlgorithm::Legacy => {
            let mut all = Vec::new();
            data.read_to_end(&mut all).map_err(SignError::ReadData)?;
            all
        }
    };
    let key = pk.verifying_key();
    let signature = ed25519_dalek::Signature::from_bytes(&sig.signature);
    key.verify_strict(&message, &signature)
        .map_err(|_| SignError::BadSignature)?;
    let global = ed25519_dalek::Signature::from_bytes(&sig.global_signature);
    key.verify_strict(&sig.global_message(), &global)
        .map_err(|_| SignError::BadTrustedComment)
}

/// BLAKE2b-512 of the data, read in chunks.
fn hash(mut data: impl Read) -> Result<[u8; 64], SignError> {
    let mut hasher = Blake2b512::new();
    io::copy(&mut data, &mut hasher).map_err(SignError::ReadData)?;
    Ok(hasher.finalize().into())
}

/// Refuses a trusted comment that would not survive the round trip through a file.
fn check_trusted_comment(comment: &str) -> Result<(), SignError> {
    if comment.contains(['\n', '\r']) {
        return Err(SignError::InvalidComment(
            "it must be one line: remove the line breaks".to_owned(),
        ));
    }
    if comment.len() > TRUSTED_COMMENT_MAX {
        return Err(SignError::InvalidComment(format!(
            "it is {} bytes; keep it under {TRUSTED_COMMENT_MAX}",
            comment.len()
        )));
    }
    Ok(())
}
