//! Entry points for the `webhook` and `refs` fuzz targets in `fuzz/` and the
//! corpus replay in `tests/it/fuzz_corpus.rs`; see `docs/fuzzing.md`.

use crate::{decide, hook, parse_push, verify_signature};

/// The secret the fuzzed signatures are checked against.
const SECRET: &[u8] = b"fuzz-secret";

/// Splits `data` at its first newline into a signature header value and a
/// body; checks the signature, runs the whole hook, and reads the body as a
/// push event whatever the signature.
pub fn webhook(data: &[u8]) {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let (header, body) = (&data[..split], data.get(split + 1..).unwrap_or(&[]));
    let header = String::from_utf8_lossy(header);
    let _ = verify_signature(SECRET, body, &header);
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_str(&header) {
        headers.insert("x-hub-signature-256", value);
    }
    headers.insert("x-github-event", http::HeaderValue::from_static("push"));
    let _ = hook(SECRET, &headers, body);
    if let Ok(push) = parse_push(body) {
        if let Ok(Some(build)) = push.trigger() {
            let _ = build.check_package("hello");
        }
    }
}

/// Reads `data` as lines `<full ref>\n<package>`: decides the build the ref
/// names and checks it against the package, and reads the ref's short name
/// as a `<name>-<version>` branch of that package.
pub fn refs(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(2, '\n');
    let full_ref = lines.next().unwrap_or("");
    let package = lines.next().unwrap_or("hello");
    if let Ok(build) = decide("https://example.com/app.git", full_ref, "0123abcd") {
        let _ = build.check_package(package);
    }
    let short = full_ref.strip_prefix("refs/heads/").unwrap_or(full_ref);
    let _ = bale_manifest::version_from_branch(package, short);
}
