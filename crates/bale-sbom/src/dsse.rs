//! The DSSE envelope the provenance travels in, signed with the build's
//! Ed25519 key over DSSE's pre-authentication encoding (PAE).
//! Format: <https://github.com/secure-systems-lab/dsse/blob/master/envelope.md>.

use bale_sign::{KeyId, Keyring, SecretKey};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::provenance::STATEMENT_TYPE;
use crate::SbomError;

/// The payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The payload, base64.
    pub payload: String,
    /// What the payload is: [`PAYLOAD_TYPE`].
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures; empty when the build had no key.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// The key's id, as minisign shows it (upper-case hex).
    pub keyid: String,
    /// The Ed25519 signature of the PAE, base64.
    pub sig: String,
}

/// What a verified envelope says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProvenance {
    /// The trusted key that signed it.
    pub key_id: String,
    /// The subject's file name.
    pub subject: String,
    /// The builder's id.
    pub builder_id: String,
}

/// DSSE's pre-authentication encoding: what is signed.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// An unsigned envelope of an in-toto statement.
    pub fn new(statement: &[u8]) -> Envelope {
        Envelope {
            payload: BASE64.encode(statement),
            payload_type: PAYLOAD_TYPE.to_owned(),
            signatures: Vec::new(),
        }
    }

    /// Reads an `.intoto.json`.
    pub fn from_slice(bytes: &[u8]) -> Result<Envelope, SbomError> {
        serde_json::from_slice(bytes).map_err(|e| SbomError::Malformed(e.to_string()))
    }

    /// The envelope's bytes, as written to `.intoto.json`.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SbomError> {
        crate::to_bytes(&serde_json::to_value(self)?)
    }

    /// The decoded payload.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, SbomError> {
        BASE64
            .decode(self.payload.as_bytes())
            .map_err(|_| SbomError::Malformed("the payload is not base64".into()))
    }

    /// Adds `key`'s signature (replacing an earlier one by the same key).
    pub fn sign(&mut self, key: &SecretKey) -> Result<(), SbomError> {
        let payload = self.payload_bytes()?;
        let sig = key.sign_message(&pae(&self.payload_type, &payload));
        let keyid = key.key_id().to_string();
        self.signatures.retain(|s| s.keyid != keyid);
        self.signatures.push(EnvelopeSignature {
            keyid,
            sig: BASE64.encode(sig),
        });
        Ok(())
    }

    /// Checks that a key `ring` trusts signed the payload and that the
    /// statement's subject is the file whose SHA-256 is `package_sha256`.
    pub fn verify(
        &self,
        ring: &Keyring,
        package_sha256: &str,
    ) -> Result<VerifiedProvenance, SbomError> {
        if self.payload_type != PAYLOAD_TYPE {
            return Err(SbomError::Malformed(format!(
                "the payload type is `{}`, not `{PAYLOAD_TYPE}`",
                self.payload_type
            )));
        }
        let payload = self.payload_bytes()?;
        let signed = pae(&self.payload_type, &payload);
        let Some(first) = self.signatures.first() else {
            return Err(SbomError::Unsigned);
        };
        let mut key_id = None;
        for signature in &self.signatures {
            let Some(key) = signature
                .keyid
                .parse::<KeyId>()
                .ok()
                .and_then(|id| ring.get(id))
            else {
                continue;
            };
            let sig: [u8; 64] = BASE64
                .decode(signature.sig.as_bytes())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| SbomError::BadSignature(signature.keyid.clone()))?;
            key.verify_message(&signed, &sig)
                .map_err(|_| SbomError::BadSignature(signature.keyid.clone()))?;
            key_id = Some(signature.keyid.clone());
            break;
        }
        let key_id = key_id.ok_or_else(|| SbomError::UntrustedKey(first.keyid.clone()))?;
        // Only a payload a trusted key signed is read.
        let statement: serde_json::Value = serde_json::from_slice(&payload)
            .map_err(|e| SbomError::Malformed(format!("the payload is not JSON: {e}")))?;
        if statement["_type"] != STATEMENT_TYPE {
            return Err(SbomError::Malformed(format!(
                "the payload's _type is not {STATEMENT_TYPE}"
            )));
        }
        let subject = &statement["subject"][0];
        let found = subject["digest"]["sha256"].as_str().unwrap_or_default();
        if found != package_sha256 {
            return Err(SbomError::WrongSubject {
                expected: package_sha256.to_owned(),
                found: found.to_owned(),
            });
        }
        Ok(VerifiedProvenance {
            key_id,
            subject: subject["name"].as_str().unwrap_or_default().to_owned(),
            builder_id: statement["predicate"]["runDetails"]["builder"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_dsse_v1() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    fn ring_with(key: &bale_sign::PublicKey) -> (tempfile::TempDir, Keyring) {
        let dir = tempfile::tempdir().expect("dir");
        Keyring::add(dir.path(), key, "test").expect("trust");
        let ring = Keyring::load(dir.path()).expect("ring");
        (dir, ring)
    }

    fn statement(sha256: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "_type": STATEMENT_TYPE,
            "subject": [{"name": "a.bale", "digest": {"sha256": sha256}}],
            "predicate": {"runDetails": {"builder": {"id": "urn:bale:builder:local"}}},
        }))
        .expect("json")
    }

    #[test]
    fn a_signed_envelope_verifies_against_a_trusted_key() {
        let pair = bale_sign::KeyPair::generate().expect("key");
        let (_dir, ring) = ring_with(&pair.public);
        let mut envelope = Envelope::new(&statement("ab"));
        envelope.sign(&pair.secret).expect("sign");
        let verified = envelope.verify(&ring, "ab").expect("verifies");
        assert_eq!(verified.subject, "a.bale");
        assert!(matches!(
            envelope.verify(&ring, "cd"),
            Err(SbomError::WrongSubject { .. })
        ));
    }

    #[test]
    fn unsigned_untrusted_and_tampered_envelopes_are_refused() {
        let pair = bale_sign::KeyPair::generate().expect("key");
        let other = bale_sign::KeyPair::generate().expect("key");
        let (_dir, ring) = ring_with(&pair.public);
        let mut envelope = Envelope::new(&statement("ab"));
        assert!(matches!(
            envelope.verify(&ring, "ab"),
            Err(SbomError::Unsigned)
        ));
        let mut by_other = envelope.clone();
        by_other.sign(&other.secret).expect("sign");
        assert!(matches!(
            by_other.verify(&ring, "ab"),
            Err(SbomError::UntrustedKey(_))
        ));
        envelope.sign(&pair.secret).expect("sign");
        let mut payload = envelope.payload_bytes().expect("payload");
        payload[10] ^= 1;
        envelope.payload = BASE64.encode(payload);
        assert!(matches!(
            envelope.verify(&ring, "ab"),
            Err(SbomError::BadSignature(_))
        ));
    }
}
