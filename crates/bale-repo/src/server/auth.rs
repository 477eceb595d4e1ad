//! Bearer tokens on write calls, and on reads of a private server: one check
//! for the repository's publish and the build service's routes alike.
//!
//! A presented token is looked up by its sha256 (`bale_db::tokens`); it is
//! never compared byte by byte with a stored secret, so how long an answer
//! takes says nothing about how much of a guessed token was right.

use axum::extract::Request;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
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
/// returns who asked, for the record (`token ID`: never any of the secret).
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
        // The record names the token by id: even a prefix of a secret is no name.
        TokenCheck::Granted(id) => Ok(format!("token {id}")),
        TokenCheck::Unknown => Err(unauthorized(format!(
            "this token is not known to this server: create one with `bale token create --scope {needed}` on it"
        ))),
        TokenCheck::Expired(at) => Err(unauthorized(format!(
            "this token expired at {} (UTC): create a new one with `bale token create --scope {needed}` on the server",
            utc(at)
        ))),
        TokenCheck::Revoked => Err(unauthorized(format!(
            "this token was revoked: create a new one with `bale token create --scope {needed}` on the server"
        ))),
        TokenCheck::WrongScope(scope) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token has the {scope} scope; this call needs the {needed} scope"),
        )),
    }
}

/// `YYYY-MM-DD HH:MM:SS` of seconds since the Unix epoch.
pub fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    // Howard Hinnant's days-from-civil, inverted.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Paths a private server still answers without a token: whether it is up,
/// and the API's description.
pub const OPEN_PATHS: &[&str] = &["/api/v1/health", "/api/v1/openapi.json"];

/// Middleware of a private server (`[server] private = true`): every read
/// (GET, HEAD) other than health and the API document needs a token of any
/// scope. Write calls check their own scope in their handlers.
pub async fn private_reads(
    axum::extract::State(db): axum::extract::State<Database>,
    request: Request,
    next: Next,
) -> Response {
    let read = request.method() == Method::GET || request.method() == Method::HEAD;
    if read && !OPEN_PATHS.contains(&request.uri().path()) {
        if let Err(refused) = authorize(&db, request.headers(), Scope::Read).await {
            return refused.into_response();
        }
    }
    next.run(request).await
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
    fn expiry_times_are_shown_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(1_709_210_096), "2024-02-29 12:34:56");
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
