//! Plain Ed25519 signatures over a whole message, for formats other than
//! minisign's that sign with the same keys (a DSSE envelope's PAE).

use ed25519_dalek::Signer;

use crate::{KeyId, PublicKey, SecretKey, SignError};

impl SecretKey {
    /// The pure Ed25519 signature of `message` (no prehash, no comment).
    pub fn sign_message(&self, message: &[u8]) -> [u8; 64] {
        self.signing_key().sign(message).to_bytes()
    }
}

impl PublicKey {
    /// Checks a pure Ed25519 signature of `message` made by [`SecretKey::sign_message`].
    pub fn verify_message(&self, message: &[u8], signature: &[u8; 64]) -> Result<(), SignError> {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.verifying_key()
            .verify_strict(message, &signature)
            .map_err(|_| SignError::BadSignature)
    }

    /// The raw 32-byte Ed25519 public key, as other tools take it.
    pub fn ed25519_bytes(&self) -> [u8; 32] {
        self.verifying_key().to_bytes()
    }
}

impl std::str::FromStr for KeyId {
    type Err = SignError;

    /// Reads a key id as [`KeyId`]'s `Display` writes it (upper-case hex).
    fn from_str(text: &str) -> Result<KeyId, SignError> {
        let malformed = || SignError::Malformed {
            what: "key id",
            reason: format!("`{text}` is not a key id (up to 16 hex digits)"),
        };
        if text.is_empty() || text.len() > 16 {
            return Err(malformed());
        }
        let n = u64::from_str_radix(text, 16).map_err(|_| malformed())?;
        Ok(KeyId(n.to_le_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use crate::KeyPair;

    #[test]
    fn a_message_signature_verifies_and_a_changed_message_does_not() {
        let pair = KeyPair::generate().expect("key");
        let sig = pair.secret.sign_message(b"DSSEv1 4 type 2 hi");
        pair.public
            .verify_message(b"DSSEv1 4 type 2 hi", &sig)
            .expect("verifies");
        assert!(pair
            .public
            .verify_message(b"DSSEv1 4 type 2 ho", &sig)
            .is_err());
    }

    #[test]
    fn a_key_id_reads_back_from_its_display() {
        let pair = KeyPair::generate().expect("key");
        let id = pair.public.key_id();
        assert_eq!(id.to_string().parse::<crate::KeyId>().expect("parse"), id);
        assert!("xyz".parse::<crate::KeyId>().is_err());
    }
}
