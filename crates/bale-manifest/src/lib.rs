//! bale.toml: schema types, parsing, validation with spanned diagnostics, kinds, and init.
