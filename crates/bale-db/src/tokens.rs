//! Bearer tokens: created once, shown once, stored only as a sha256 hash.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::{column, now, Database, DbError};

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
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
            Scope::Build => "build",
            Scope::Publish => "publish",
            Scope::Admin => "admin",
        }
    }

    /// Whether a token of this scope may do what `needed` allows.
    pub fn grants(self, needed: Scope) -> bool {
        self == needed || self == Scope::Admin
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
    /// The token exists and its scope covers the request.
    Granted,
    /// No such token.
    Unknown,
    /// The token exists but carries another scope.
    WrongScope(Scope),
}

/// Creates a token with `scope`, stores its hash, and returns the token (shown once).
pub async fn create(db: &Database, scope: Scope) -> Result<String, DbError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| DbError::Random(e.to_string()))?;
    let token = format!("bale_{}", hex::encode(secret));
    sqlx::query("INSERT INTO tokens (scope, token_sha256, created_at) VALUES ($1, $2, $3)")
        .bind(scope.as_str())
        .bind(hash(&token))
        .bind(now())
        .execute(db.pool())
        .await?;
    Ok(token)
}

/// Checks a presented token against the scope a request needs.
///
/// The token is found by its hash: no stored secret is compared with the
/// presented one, so the lookup's timing tells an attacker nothing useful.
pub async fn check(db: &Database, token: &str, needed: Scope) -> Result<TokenCheck, DbError> {
    let row = sqlx::query("SELECT scope FROM tokens WHERE token_sha256 = $1")
        .bind(hash(token))
        .fetch_optional(db.pool())
        .await?;
    let Some(row) = row else {
        return Ok(TokenCheck::Unknown);
    };
    let scope: Scope = column::<String>(&row, "scope")?.parse()?;
    Ok(if scope.grants(needed) {
        TokenCheck::Granted
    } else {
        TokenCheck::WrongScope(scope)
    })
}

/// The stored form of a token: lower-case hex sha256.
fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
