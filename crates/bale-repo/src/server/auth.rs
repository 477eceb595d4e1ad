//! Bearer tokens on write calls: one check for the repository's publish
//! and the build service's routes alike.
//!
//! A presented token is looked up by its sha256 (`bale_db::tokens`); it is
//! never compared byte by byte with a stored secret, so how long an answer
//! takes says nothing about how much of a guessed token was right.

use axum::http::{header, HeaderMap, StatusCode};
use bale_db::tokens::{self, Scope, TokenCheck};
use bale_db::Database;

use super::problem::ApiError;

/// The token of an `Authorization: Bearer <token>` header, if the request has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    // Authentication schemes are case-insensitive (RFC 9110, section 11.1).
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Checks that the request carries a token whose scope covers `needed`;
/// returns who asked, for the record (the token's first characters only).
pub async fn authorize(
    db: &Database,
    headers: &HeaderMap,
    needed: Scope,
) -> Result<String, ApiError> {
    let unauthorized =
        |message: String| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
    let token = bearer_token(headers).ok_or_else(|| {
        unauthorized(format!(
            "this call needs a bearer token with the {needed} scope: create one with `bale token create --scope {needed}` on the server and set BALE_TOKEN"
        ))
    })?;
    match tokens::check(db, token, needed).await? {
        TokenCheck::Granted => Ok(format!(
            "token {}…",
            token.chars().take(12).collect::<String>()
        )),
        TokenCheck::Unknown => Err(unauthorized(format!(
            "this token is not known to this server: create one with `bale token create --scope {needed}` on it"
        ))),
        TokenCheck::WrongScope(scope) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token has the {scope} scope; this call needs the {needed} scope"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for value in ["Bearer bale_x", "bearer bale_x", "BEARER  bale_x "] {
            assert_eq!(
                bearer_token(&with_authorization(value)),
                Some("bale_x"),
                "{value}"
            );
        }
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_no_token() {
        for value in [
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
            "Bearer",
            "Bearer   ",
            "bale_x",
        ] {
            assert_eq!(bearer_token(&with_authorization(value)), None, "{value}");
        }
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
