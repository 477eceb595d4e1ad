//! Integration tests of bale-export: exports of hand-made packages read by
//! the real tools.

mod deb;
