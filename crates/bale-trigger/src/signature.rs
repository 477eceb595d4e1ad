//! HMAC-SHA256 signatures of webhook bodies, as GitHub and Gitea send them.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::TriggerError;

/// The headers that carry a push's signature, in the order they are looked at.
pub const SIGNATURE_HEADERS: [&str; 2] = ["x-hub-signature-256", "x-gitea-signature"];

/// Checks `header_value` (`sha256=<hex>` from `X-Hub-Signature-256`, or the bare `<hex>` of
/// `X-Gitea-Signature`) against HMAC-SHA256 of `body` under `secret`, in constant time.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header_value: &str,
) -> Result<(), TriggerError> {
    let value = header_value.trim();
    if value.is_empty() {
        return Err(TriggerError::MissingSignature);
    }
    let digits = value.strip_prefix("sha256=").unwrap_or(value);
    let malformed = || TriggerError::MalformedSignature {
        value: value.chars().take(80).collect(),
    };
    if digits.len() != 64 {
        return Err(malformed());
    }
    let expected = hex::decode(digits).map_err(|_| malformed())?;
    // verify_slice compares in constant time, so the answer's timing says nothing about the secret.
    mac(secret, body)
        .verify_slice(&expected)
        .map_err(|_| TriggerError::BadSignature)
}

/// The `X-Hub-Signature-256` value for `body` under `secret`: `sha256=<hex>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(mac(secret, body).finalize().into_bytes())
    )
}

/// The signature header of a request: `X-Hub-Signature-256`, else `X-Gitea-Signature`.
pub fn signature_header(headers: &http::HeaderMap) -> Option<&str> {
    SIGNATURE_HEADERS
        .iter()
        .find_map(|name| headers.get(*name))
        .and_then(|value| value.to_str().ok())
}

fn mac(secret: &[u8], body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; new_from_slice cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example from GitHub's documentation on validating webhook deliveries.
    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const GITHUB_EXAMPLE: &str =
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn a_signature_computed_as_github_documents_it_is_accepted() {
        assert_eq!(sign(SECRET, BODY), GITHUB_EXAMPLE);
        verify_signature(SECRET, BODY, GITHUB_EXAMPLE).unwrap();
    }

    #[test]
    fn a_gitea_signature_without_the_prefix_is_accepted() {
        verify_signature(SECRET, BODY, GITHUB_EXAMPLE.trim_start_matches("sha256=")).unwrap();
    }

    #[test]
    fn a_signature_of_another_body_or_secret_is_refused() {
        assert!(matches!(
            verify_signature(SECRET, b"Hello, World?", GITHUB_EXAMPLE),
            Err(TriggerError::BadSignature)
        ));
        assert!(matches!(
            verify_signature(b"other secret", BODY, GITHUB_EXAMPLE),
            Err(TriggerError::BadSignature)
        ));
    }

    #[test]
    fn a_missing_signature_is_refused_as_missing() {
        assert!(matches!(
            verify_signature(SECRET, BODY, ""),
            Err(TriggerError::MissingSignature)
        ));
        assert!(matches!(
            verify_signature(SECRET, BODY, "  "),
            Err(TriggerError::MissingSignature)
        ));
    }

    #[test]
    fn a_malformed_signature_is_refused_as_malformed() {
        for value in [
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
            "sha256=xyz",
            "sha256=757107ea",
            &"z".repeat(64),
        ] {
            let err = verify_signature(SECRET, BODY, value).unwrap_err();
            assert!(
                matches!(err, TriggerError::MalformedSignature { .. }),
                "{value}: {err}"
            );
            assert_eq!(err.http_status(), 401);
        }
    }

    #[test]
    fn the_github_header_is_preferred_and_gitea_s_is_found_alone() {
        let mut headers = http::HeaderMap::new();
        headers.insert("X-Gitea-Signature", "abc".parse().unwrap());
        assert_eq!(signature_header(&headers), Some("abc"));
        headers.insert("X-Hub-Signature-256", "sha256=def".parse().unwrap());
        assert_eq!(signature_header(&headers), Some("sha256=def"));
        assert_eq!(signature_header(&http::HeaderMap::new()), None);
    }
}
