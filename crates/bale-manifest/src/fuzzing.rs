//! The entry point for the `manifest` fuzz target in `fuzz/` and the corpus
//! replay in `tests/it/fuzz_corpus.rs`; see `docs/fuzzing.md`.

use std::sync::OnceLock;

use crate::{ByteSize, Catalog, HumanDuration, Manifest, ParseOptions};

/// The default catalog, built once: reading the shipped kinds each run
/// would cost more than parsing the input.
static CATALOG: OnceLock<Catalog> = OnceLock::new();

/// Parses `data` as `bale.toml` (as written and as installed) and renders
/// any diagnostics, as `bale` would print them.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = CATALOG.get_or_init(Catalog::default);
    if let Err(diagnostics) = Manifest::parse("bale.toml", text, catalog, &ParseOptions::default())
    {
        let _ = diagnostics.render(false);
        let _ = diagnostics.to_string();
    }
    if let Err(diagnostics) = Manifest::parse_installed("manifest.toml", text) {
        let _ = diagnostics.render(true);
    }
    let _ = (ByteSize::parse(text), HumanDuration::parse(text));
}
