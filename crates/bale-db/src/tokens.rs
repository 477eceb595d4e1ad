//! Bearer tokens: created once, shown once, stored only as a sha256 hash;
//! each may expire and can be revoked.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::{column, now, Database, DbError};

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Read a private server (`[server] private = true`); every other scope reads too.
    Read,
    /// Submit and cancel builds.
    Build,
    /// Publish packages to the repository.
    Publish,
    /// Everything, including stacks.
    Admin,
}

impl Scope {
    /// The scope's name as stored and typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Build => "build",
            Scope::Publish => "publish",
            Scope::Admin => "admin",
        }
    }

    /// Whether a token of this scope may do what `needed` allows.
    pub fn grants(self, needed: Scope) -> bool {
        self == needed || self == Scope::Admin || needed == Scope::Read
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = DbError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Scope::Read),
            "build" => Ok(Scope::Build),
            "publish" => Ok(Scope::Publish),
            "admin" => Ok(Scope::Admin),
            other => Err(DbError::UnknownScope(other.to_owned())),
        }
    }
}

/// What the database says about a presented token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    /// The token exists, is live, and its scope covers the request; its id.
    Granted(i64),
    /// No such token.
    Unknown,
    /// The token exists but carries another scope.
    WrongScope(Scope),
    /// The token expired at this time (seconds since the Unix epoch).
    Expired(i64),
    /// The token was revoked (`bale token revoke`).
    Revoked,
}

/// A token just created: the secret (shown once) and what is stored about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The bearer token; only its hash is stored.
    pub token: String,
    /// Its id, for `bale token list` and `revoke`.
    pub id: i64,
    /// When it stops working, if ever (seconds since the Unix epoch).
    pub expires_at: Option<i64>,
}

/// What is stored about a token; never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    /// Its id.
    pub id: i64,
    /// What it may do.
    pub scope: Scope,
    /// When it was created (seconds since the Unix epoch).
    pub created_at: i64,
    /// When it stops working, if ever.
    pub expires_at: Option<i64>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// When a request last presented it (to the minute), if ever.
    pub last_used_at: Option<i64>,
}

impl TokenInfo {
    /// `active`, `expired` or `revoked` at time `now`.
    pub fn state(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|at| at <= now) {
            "expired"
        } else {
            "active"
        }
    }
}

/// Creates a token with `scope` that never expires, stores its hash, and returns the token (shown once).
pub async fn create(db: &Database, scope: Scope) -> Result<String, DbError> {
    Ok(create_expiring(db, scope, None).await?.token)
}

/// Creates a token with `scope` that stops working after `lifetime` (never when `None`).
pub async fn create_expiring(
    db: &Database,
    scope: Scope,
    lifetime: Option<Duration>,
) -> Result<NewToken, DbError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| DbError::Random(e.to_string()))?;
    let token = format!("bale_{}", hex::encode(secret));
    let created_at = now();
    let expires_at =
        lifetime.map(|l| created_at.saturating_add(i64::try_from(l.as_secs()).unwrap_or(i64::MAX)));
    sqlx::query(
        "INSERT INTO tokens (scope, token_sha256, created_at, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(scope.as_str())
    .bind(hash(&token))
    .bind(created_at)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    // The hash is unique: it finds the row on both backends without RETURNING's differences.
    let id: i64 = sqlx::query_scalar("SELECT id FROM tokens WHERE token_sha256 = $1")
        .bind(hash(&token))
        .fetch_one(db.pool())
        .await?;
    Ok(NewToken {
        token,
        id,
        expires_at,
    })
}

/// Checks a presented token against the scope a request needs, and notes its use.
///
/// The token is found by its hash: no stored secret is compared with the
/// presented one, so the lookup's timing tells an attacker nothing useful.
pub async fn check(db: &Database, token: &str, needed: Scope) -> Result<TokenCheck, DbError> {
    let row = sqlx::query(
        "SELECT id, scope, expires_at, revoked_at, last_used_at FROM tokens WHERE token_sha256 = $1",
    )
    .bind(hash(token))
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(TokenCheck::Unknown);
    };
    let id: i64 = column(&row, "id")?;
    let scope: Scope = column::<String>(&row, "scope")?.parse()?;
    let expires_at: Option<i64> = column(&row, "expires_at")?;
    let revoked_at: Option<i64> = column(&row, "revoked_at")?;
    let last_used_at: Option<i64> = column(&row, "last_used_at")?;
    let now = now();
    if revoked_at.is_some() {
        return Ok(TokenCheck::Revoked);
    }
    if let Some(at) = expires_at.filter(|at| *at <= now) {
        return Ok(TokenCheck::Expired(at));
    }
    if !scope.grants(needed) {
        return Ok(TokenCheck::WrongScope(scope));
    }
    // To the minute: a busy reader should not turn every request into a write.
    if last_used_at.is_none_or(|at| now - at >= 60) {
        sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(db.pool())
            .await?;
    }
    Ok(TokenCheck::Granted(id))
}

/// Every token ever created, oldest first (revoked and expired ones too).
pub async fn list(db: &Database) -> Result<Vec<TokenInfo>, DbError> {
    let rows = sqlx::query(
        "SELECT id, scope, created_at, expires_at, revoked_at, last_used_at FROM tokens ORDER BY id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(TokenInfo {
                id: column(row, "id")?,
                scope: column::<String>(row, "scope")?.parse()?,
                created_at: column(row, "created_at")?,
                expires_at: column(row, "expires_at")?,
                revoked_at: column(row, "revoked_at")?,
                last_used_at: column(row, "last_used_at")?,
            })
        })
        .collect()
}

/// Whether a revoke changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The token worked until now.
    Now,
    /// It had been revoked before.
    Already,
    /// No token has this id.
    Unknown,
}

/// Revokes the token with `id`: from now on it is refused.
pub async fn revoke(db: &Database, id: i64) -> Result<Revoked, DbError> {
    let done =
        sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now())
            .bind(id)
            .execute(db.pool())
            .await?;
    if done.rows_affected() > 0 {
        return Ok(Revoked::Now);
    }
    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM tokens WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    Ok(if exists.is_some() {
        Revoked::Already
    } else {
        Revoked::Unknown
    })
}

/// The stored form of a token: lower-case hex sha256.
fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
