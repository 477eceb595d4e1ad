//! The keys a machine trusts, and key files on disk.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use bale_sign::{sign, write_key_pair, KeyPair, Keyring, SignError};

const DATA: &[u8] = b"package bytes";

fn pair() -> KeyPair {
    KeyPair::generate().unwrap()
}

#[test]
fn a_missing_keyring_directory_is_an_empty_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::load(&dir.path().join("does-not-exist")).unwrap();
    assert!(keyring.keys().is_empty());
}

#[test]
fn added_keys_load_back_by_name_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (pair(), pair());
    let path = Keyring::add(dir.path(), &bob.public, "bob").unwrap();
    assert_eq!(path, dir.path().join("bob.pub"));
    Keyring::add(dir.path(), &alice.public, "alice").unwrap();
    fs::write(dir.path().join("README"), "not a key").unwrap();
    let keyring = Keyring::load(dir.path()).unwrap();
    let names: Vec<_> = keyring.keys().iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob"]);
    assert_eq!(keyring.keys()[0].public_key, alice.public);
    assert_eq!(keyring.keys()[1].public_key, bob.public);
}

#[test]
fn add_leaves_no_temporary_files_and_writes_a_readable_pub_file() {
    let dir = tempfile::tempdir().unwrap();
    Keyring::add(dir.path(), &pair().public, "release").unwrap();
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["release.pub"]);
    let mode = fs::metadata(dir.path().join("release.pub"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn adding_the_same_key_twice_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = pair().public;
    Keyring::add(dir.path(), &key, "release").unwrap();
    Keyring::add(dir.path(), &key, "release").unwrap();
    assert_eq!(Keyring::load(dir.path()).unwrap().keys().len(), 1);
}

#[test]
fn a_different_key_under_a_taken_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (pair(), pair());
    Keyring::add(dir.path(), &first.public, "release").unwrap();
    let error = Keyring::add(dir.path(), &second.public, "release").unwrap_err();
    assert!(matches!(error, SignError::KeyNameTaken { .. }));
    let keyring = Keyring::load(dir.path()).unwrap();
    assert_eq!(keyring.keys()[0].public_key, first.public);
}

#[test]
fn key_names_that_are_not_plain_file_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = pair().public;
    for name in ["", "../escape", ".hidden", "a/b", "sp ace"] {
        let error = Keyring::add(dir.path(), &key, name).unwrap_err();
        assert!(matches!(error, SignError::InvalidKeyName(_)), "{name:?}");
    }
}

#[test]
fn keyring_verifies_with_the_key_the_signature_names() {
    let dir = tempfile::tempdir().unwrap();
    let (alice, bob) = (pair(), pair());
    Keyring::add(dir.path(), &alice.public, "alice").unwrap();
    Keyring::add(dir.path(), &bob.public, "bob").unwrap();
    let keyring = Keyring::load(dir.path()).unwrap();
    let sig = sign(&bob.secret, DATA, "c").unwrap();
    assert_eq!(keyring.verify(DATA, &sig).unwrap(), &bob.public);
    assert!(matches!(
        keyring.verify(&b"other bytes"[..], &sig),
        Err(SignError::BadSignature)
    ));
}

#[test]
fn a_signature_from_an_untrusted_key_is_refused_naming_its_key_id() {
    let dir = tempfile::tempdir().unwrap();
    let (trusted, stranger) = (pair(), pair());
    Keyring::add(dir.path(), &trusted.public, "trusted").unwrap();
    let keyring = Keyring::load(dir.path()).unwrap();
    let sig = sign(&stranger.secret, DATA, "c").unwrap();
    let error = keyring.verify(DATA, &sig).unwrap_err();
    assert!(matches!(error, SignError::UntrustedKey(id) if id == stranger.public.key_id()));
    let message = error.to_string();
    assert!(
        message.contains(&stranger.public.key_id().to_string()),
        "{message}"
    );
    assert!(message.contains("bale key trust"), "{message}");
}

#[test]
fn a_broken_pub_file_in_the_keyring_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("broken.pub"),
        "untrusted comment: x\nnot-a-key\n",
    )
    .unwrap();
    let error = Keyring::load(dir.path()).unwrap_err();
    assert!(matches!(error, SignError::InvalidKeyringFile { .. }));
    assert!(error.to_string().contains("broken.pub"), "{error}");
}

#[test]
fn write_key_pair_writes_a_private_secret_key_and_a_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let pair = pair();
    let files = write_key_pair(&keys, "release", &pair).unwrap();
    assert_eq!(files.secret, keys.join("release.key"));
    assert_eq!(files.public, keys.join("release.pub"));
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&files.secret), 0o600);
    assert_eq!(mode(&files.public), 0o644);
    assert_eq!(mode(&keys), 0o700);
    let secret =
        bale_sign::SecretKey::from_file_string(&fs::read_to_string(&files.secret).unwrap());
    assert_eq!(secret.unwrap().public_key(), pair.public);
    let public =
        bale_sign::PublicKey::from_file_string(&fs::read_to_string(&files.public).unwrap());
    assert_eq!(public.unwrap(), pair.public);
}

#[test]
fn write_key_pair_never_overwrites_a_secret_key() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (pair(), pair());
    let files = write_key_pair(dir.path(), "release", &first).unwrap();
    let before = fs::read_to_string(&files.secret).unwrap();
    let error = write_key_pair(dir.path(), "release", &second).unwrap_err();
    assert!(matches!(error, SignError::SecretKeyExists(ref p) if p == &files.secret));
    assert_eq!(fs::read_to_string(&files.secret).unwrap(), before);
    let public = fs::read_to_string(&files.public).unwrap();
    assert_eq!(public, first.public.to_file_string());
}
