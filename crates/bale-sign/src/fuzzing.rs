//! The entry point for the `minisign` fuzz target in `fuzz/` and the corpus
//! replay in `tests/it/fuzz_corpus.rs`; see `docs/fuzzing.md`.

use crate::{PublicKey, SecretKey, Signature};

/// Reads `data` as a public key (file and bare base64), a secret key and a
/// signature; whatever parses must write back to text that parses the same.
pub fn minisign(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(pk) = PublicKey::from_file_string(&text) {
        let again = PublicKey::from_file_string(&pk.to_file_string());
        assert!(again.is_ok_and(|again| again == pk));
    }
    let _ = PublicKey::from_base64(&text);
    if let Ok(sk) = SecretKey::from_file_string(&text) {
        assert!(SecretKey::from_file_string(&sk.to_file_string()).is_ok());
    }
    if let Ok(sig) = Signature::from_file_string(&text) {
        let again = Signature::from_file_string(&sig.to_file_string());
        assert!(again.is_ok_and(|again| again == sig));
    }
}
