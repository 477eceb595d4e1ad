//! Secrets out of build records and logs.
//!
//! A build's error and log lines come from git, from the build's own
//! commands and from a manifest nobody vetted, and they are shown to anyone
//! who may read builds. Whatever looks like key material or a token is
//! replaced by [`REDACTED`] before it is stored: [`scrub`] knows the shapes
//! (minisign secret keys, bale tokens, `Bearer …`, a URL's password), a [`Scrubber`] also the
//! exact secrets of one process (its signing key file, its tokens).

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The base64 starts of minisign secret keys: unencrypted (`Ed\0\0B2`) and
/// scrypt-encrypted (`EdScB2`).
const SECRET_KEY_STARTS: [&str; 2] = ["RWQAAEIy", "RWRTY0Iy"];

/// The start of a bale API token (`bale_` and 64 hex digits).
const TOKEN_START: &str = "bale_";

/// Secrets shorter than this are not looked for: they would redact ordinary words.
const MIN_SECRET_LEN: usize = 8;

/// Replaces the secrets of one process, and every secret of a known shape.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    /// A scrubber that knows only the shapes of secrets.
    pub fn new() -> Scrubber {
        Scrubber::default()
    }

    /// Also replaces this exact text (ignored when shorter than 8 characters).
    pub fn with_secret(mut self, secret: &str) -> Scrubber {
        let secret = secret.trim();
        if secret.len() >= MIN_SECRET_LEN && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
            // Longest first, so a secret that holds another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
        self
    }

    /// Also replaces every line of a key file but its comments.
    pub fn with_key_file(self, text: &str) -> Scrubber {
        text.lines()
            .filter(|line| !line.starts_with("untrusted comment:"))
            .fold(self, |scrubber, line| scrubber.with_secret(line))
    }

    /// `text` with every known secret and every secret-shaped word replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        scrub(&out)
    }
}

/// `text` with every secret-shaped word replaced: minisign secret key blobs
/// (and the line after a secret key's `untrusted comment:`), bale tokens,
/// and the credential after `Bearer `.
pub fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_secret_comment = false;
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if after_secret_comment {
            after_secret_comment = false;
            out.push_str(REDACTED);
            continue;
        }
        let lower = line.to_ascii_lowercase();
        if lower.contains("untrusted comment:") && lower.contains("secret key") {
            after_secret_comment = true;
        }
        scrub_line(&scrub_url_passwords(line), &mut out);
    }
    out
}

/// `scheme://user:password@host` with the password replaced.
fn scrub_url_passwords(line: &str) -> std::borrow::Cow<'_, str> {
    if !line.contains("://") {
        return line.into();
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_end = after
            .find(|c: char| c == '/' || c.is_whitespace() || matches!(c, '"' | '\'' | '>'))
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority
            .rfind('@')
            .and_then(|a| authority[..a].find(':').map(|colon| (colon, a)))
        {
            Some((colon, at_sign)) => {
                out.push_str(&authority[..=colon]);
                out.push_str(REDACTED);
                out.push_str(&authority[at_sign..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    out.into()
}

/// Replaces secret-shaped words of one line, appending to `out`.
fn scrub_line(line: &str, out: &mut String) {
    let mut rest = line;
    while !rest.is_empty() {
        let mut word_len = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
        // Base64 padding ends a word; elsewhere `=` separates (`token=…`).
        while word_len > 0 && rest[word_len..].starts_with('=') {
            word_len += 1;
        }
        if word_len == 0 {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
            if ends_with_bearer(out) {
                rest = replace_credential(rest, out);
            }
            continue;
        }
        let word = &rest[..word_len];
        if let Some(at) = secret_key_blob_at(word) {
            out.push_str(&word[..at]);
            out.push_str(REDACTED);
        } else if let Some(hex) = word.strip_prefix(TOKEN_START) {
            if hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                out.push_str(TOKEN_START);
                out.push_str(REDACTED);
            } else {
                out.push_str(word);
            }
        } else {
            out.push_str(word);
        }
        rest = &rest[word_len..];
    }
}

/// Characters of base64 words and tokens (`=` only as padding, see above).
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '_')
}

/// Where a minisign secret key blob starts in `word` (`/` is base64, so a
/// blob may follow a path in one word).
fn secret_key_blob_at(word: &str) -> Option<usize> {
    SECRET_KEY_STARTS
        .iter()
        .filter_map(|start| word.find(start))
        .filter(|at| word.len() - at >= 40)
        .min()
}

/// Whether `out` ends with `Bearer ` (any case).
fn ends_with_bearer(out: &str) -> bool {
    out.len() >= 7
        && out.is_char_boundary(out.len() - 7)
        && out[out.len() - 7..].eq_ignore_ascii_case("bearer ")
}

/// Replaces the credential at the start of `rest`; returns what follows it.
fn replace_credential<'a>(rest: &'a str, out: &mut String) -> &'a str {
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ','))
        .unwrap_or(rest.len());
    if end == 0 {
        return rest;
    }
    out.push_str(REDACTED);
    &rest[end..]
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_LINE: &str = "RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB1c2VyIGtleSBieXRlcyBnbyBoZXJlIGFuZCBoZXJlIGFuZCBoZXJl";

    #[test]
    fn a_secret_key_line_in_a_git_error_is_replaced() {
        let error = format!("error: pathspec '{KEY_LINE}' did not match any file(s) known to git");
        let scrubbed = scrub(&error);
        assert!(!scrubbed.contains("RWQAAEIy"), "{scrubbed}");
        assert_eq!(
            scrubbed,
            "error: pathspec '[redacted]' did not match any file(s) known to git"
        );
    }

    #[test]
    fn the_line_after_a_secret_key_comment_is_replaced_whatever_it_holds() {
        let text = "cat key:\nuntrusted comment: minisign encrypted secret key\nsomething-else-secret\nnext";
        assert_eq!(
            scrub(text),
            "cat key:\nuntrusted comment: minisign encrypted secret key\n[redacted]\nnext"
        );
    }

    #[test]
    fn tokens_and_bearer_credentials_are_replaced() {
        let token = format!("bale_{}", "ab12".repeat(16));
        let text = format!("curl -H 'Authorization: Bearer {token}' and BEARER xyz-123,");
        let scrubbed = scrub(&text);
        assert!(!scrubbed.contains("ab12ab12"), "{scrubbed}");
        assert!(!scrubbed.contains("xyz-123"), "{scrubbed}");
        assert_eq!(
            scrubbed,
            "curl -H 'Authorization: Bearer [redacted]' and BEARER [redacted],"
        );
        let bare = scrub(&format!("token={token}"));
        assert_eq!(bare, "token=bale_[redacted]");
        let keyed = scrub(&format!("key={KEY_LINE}== /keys/{KEY_LINE}"));
        assert_eq!(keyed, "key=[redacted] /keys/[redacted]");
    }

    #[test]
    fn a_password_in_a_url_is_replaced_and_the_rest_kept() {
        assert_eq!(
            scrub("fatal: could not read from https://ci:hunter2@git.example.org/a.git/ (x)"),
            "fatal: could not read from https://ci:[redacted]@git.example.org/a.git/ (x)"
        );
        assert_eq!(
            scrub("clone 'ssh://git@example.org/a.git' and http://example.org:8080/x"),
            "clone 'ssh://git@example.org/a.git' and http://example.org:8080/x"
        );
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "Step build",
            "git clone --quiet -- https://git.example.org/app.git /tmp/x",
            "bale_home is set; RWQA is short",
            "sha256:0123456789abcdef",
            "héllo wörld → done",
            "",
        ] {
            assert_eq!(scrub(text), text);
        }
    }

    #[test]
    fn a_scrubber_replaces_the_exact_secrets_it_was_given() {
        let scrubber = Scrubber::new()
            .with_key_file("untrusted comment: minisign secret key 1234\nQUFBQUFBQUFBQUFB\n")
            .with_secret("hunter2-long-secret")
            .with_secret("short");
        let scrubbed = scrubber.scrub("x QUFBQUFBQUFBQUFB y hunter2-long-secret short");
        assert_eq!(scrubbed, "x [redacted] y [redacted] short");
    }
}
