//! Integration tests of bale-export, one binary.

mod push_auth;
