//! Ed25519 keys and signatures in minisign's format, and the keys a machine trusts.
