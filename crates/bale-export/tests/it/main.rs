//! Integration tests of bale-export: each format made from a package and
//! checked with the tools of the platform that takes it.

mod apk;
mod deb;
mod push_auth;
