//! Keys and signatures round-trip through their file formats and verify.

use std::io::{self, Read};

use bale_sign::{
    default_trusted_comment, sign, verify, KeyPair, PublicKey, SecretKey, SignError, Signature,
    SignatureAlgorithm,
};

const DATA: &[u8] = b"hello-2.10.bale contents\n";

fn pair() -> KeyPair {
    KeyPair::generate().unwrap()
}

#[test]
fn public_key_file_names_the_key_id_and_round_trips() {
    let pair = pair();
    let text = pair.public.to_file_string();
    let id = pair.public.key_id().to_string();
    // minisign prints the id without leading zeros: 1 to 16 hex digits.
    assert!((1..=16).contains(&id.len()), "{id}");
    assert!(id
        .chars()
        .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    assert_eq!(
        text.lines().next().unwrap(),
        format!("untrusted comment: minisign public key {id}")
    );
    assert_eq!(PublicKey::from_file_string(&text).unwrap(), pair.public);
    assert_eq!(
        PublicKey::from_base64(&pair.public.to_base64()).unwrap(),
        pair.public
    );
    assert!(
        pair.public.to_base64().starts_with("RW"),
        "base64 of \"Ed\" starts with RW"
    );
}

#[test]
fn key_id_is_shown_as_the_little_endian_number_minisign_prints() {
    let id = bale_sign::KeyId([0xf8, 0x58, 0x80, 0xcb, 0x84, 0xc5, 0xd3, 0xe3]);
    assert_eq!(id.to_string(), "E3D3C584CB8058F8");
}

#[test]
fn secret_key_file_round_trips_and_is_unencrypted() {
    let pair = pair();
    let text = pair.secret.to_file_string();
    let read = SecretKey::from_file_string(&text).unwrap();
    assert_eq!(read.key_id(), pair.secret.key_id());
    assert_eq!(read.public_key(), pair.public);
    let line = text.lines().nth(1).unwrap();
    let bytes = base64_decode(line);
    assert_eq!(&bytes[..6], b"Ed\0\0B2", "no kdf, BLAKE2b checksum");
    assert!(
        !format!("{read:?}").contains(line),
        "Debug must not print the key"
    );
}

#[test]
fn encrypted_secret_key_without_a_password_is_refused_saying_where_to_give_it() {
    let text = pair().secret.to_file_string();
    let mut bytes = base64_decode(text.lines().nth(1).unwrap());
    bytes[2..4].copy_from_slice(b"Sc");
    let encrypted = format!("untrusted comment: x\n{}\n", base64_encode(&bytes));
    let error = SecretKey::from_file_string(&encrypted).unwrap_err();
    assert!(matches!(error, SignError::EncryptedSecretKey));
    assert!(error.to_string().contains("BALE_KEY_PASSWORD"), "{error}");
}

#[test]
fn secret_key_with_a_wrong_checksum_is_corrupt() {
    let text = pair().secret.to_file_string();
    let mut bytes = base64_decode(text.lines().nth(1).unwrap());
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let damaged = format!("untrusted comment: x\n{}\n", base64_encode(&bytes));
    assert!(matches!(
        SecretKey::from_file_string(&damaged),
        Err(SignError::CorruptSecretKey(_))
    ));
}

#[test]
fn garbage_is_not_a_key_or_a_signature() {
    assert!(matches!(
        PublicKey::from_base64("not base64!"),
        Err(SignError::Malformed { .. })
    ));
    assert!(matches!(
        PublicKey::from_base64("RWQ="),
        Err(SignError::Malformed { .. })
    ));
    assert!(matches!(
        SecretKey::from_file_string(""),
        Err(SignError::Malformed { .. })
    ));
    assert!(matches!(
        Signature::from_file_string("hello\n"),
        Err(SignError::Malformed { .. })
    ));
}

#[test]
fn signature_verifies_and_round_trips_through_its_file() {
    let pair = pair();
    let comment = default_trusted_comment("hello-2.10.bale", 1_700_000_000);
    let sig = sign(&pair.secret, DATA, &comment).unwrap();
    assert_eq!(sig.algorithm(), SignatureAlgorithm::Prehashed);
    assert_eq!(sig.key_id(), pair.public.key_id());
    let text = sig.to_file_string();
    assert_eq!(text.lines().count(), 4);
    assert_eq!(
        text.lines().nth(2).unwrap(),
        format!("trusted comment: {comment}")
    );
    let read = Signature::from_file_string(&text).unwrap();
    assert_eq!(read, sig);
    assert_eq!(
        read.trusted_comment(),
        "timestamp:1700000000\tfile:hello-2.10.bale\thashed"
    );
    verify(&pair.public, DATA, &read).unwrap();
}

#[test]
fn the_same_key_data_and_comment_give_the_same_signature_file() {
    let pair = pair();
    let a = sign(&pair.secret, DATA, "fixed").unwrap().to_file_string();
    let b = sign(&pair.secret, DATA, "fixed").unwrap().to_file_string();
    assert_eq!(a, b);
}

#[test]
fn a_flipped_byte_in_the_data_fails_verification() {
    let pair = pair();
    let sig = sign(&pair.secret, DATA, "c").unwrap();
    let mut changed = DATA.to_vec();
    changed[3] ^= 0x01;
    assert!(matches!(
        verify(&pair.public, changed.as_slice(), &sig),
        Err(SignError::BadSignature)
    ));
}

#[test]
fn an_edited_trusted_comment_fails_verification() {
    let pair = pair();
    let text = sign(&pair.secret, DATA, "version 1.0")
        .unwrap()
        .to_file_string();
    let edited = Signature::from_file_string(&text.replace("version 1.0", "version 9.9")).unwrap();
    assert!(matches!(
        verify(&pair.public, DATA, &edited),
        Err(SignError::BadTrustedComment)
    ));
}

#[test]
fn the_untrusted_comment_may_change_freely() {
    let pair = pair();
    let text = sign(&pair.secret, DATA, "c").unwrap().to_file_string();
    let first = text.lines().next().unwrap().to_owned();
    let edited = text.replace(&first, "untrusted comment: anything at all");
    let sig = Signature::from_file_string(&edited).unwrap();
    assert_eq!(sig.untrusted_comment(), "anything at all");
    verify(&pair.public, DATA, &sig).unwrap();
}

#[test]
fn verifying_with_another_key_names_both_key_ids() {
    let signer = pair();
    let other = pair();
    let sig = sign(&signer.secret, DATA, "c").unwrap();
    let error = verify(&other.public, DATA, &sig).unwrap_err();
    assert!(matches!(error, SignError::WrongKey { .. }));
    let message = error.to_string();
    assert!(
        message.contains(&signer.public.key_id().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&other.public.key_id().to_string()),
        "{message}"
    );
}

#[test]
fn a_multi_line_trusted_comment_is_refused() {
    let error = sign(&pair().secret, DATA, "one\ntwo").unwrap_err();
    assert!(matches!(error, SignError::InvalidComment(_)));
}

#[test]
fn large_data_is_signed_and_verified_as_a_stream() {
    let pair = pair();
    let len = 16 << 20;
    let data = || io::repeat(0x5a).take(len);
    let sig = sign(&pair.secret, data(), "big").unwrap();
    verify(&pair.public, data(), &sig).unwrap();
    let shorter = io::repeat(0x5a).take(len - 1);
    assert!(matches!(
        verify(&pair.public, shorter, &sig),
        Err(SignError::BadSignature)
    ));
}

#[test]
fn a_read_error_in_the_data_is_reported_as_such() {
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    let error = sign(&pair().secret, Failing, "c").unwrap_err();
    assert!(matches!(error, SignError::ReadData(_)));
    // The cause is the error's source, shown once by whoever walks the chain.
    let source = std::error::Error::source(&error).map(ToString::to_string);
    assert_eq!(source.as_deref(), Some("disk on fire"));
    assert!(!error.to_string().contains("disk on fire"));
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
