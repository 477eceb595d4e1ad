//! The integration tests of `bale-inspect`, one binary: each module is one area.

mod real_files;
