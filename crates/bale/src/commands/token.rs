//! `bale token create|list|revoke`: the bearer tokens of this machine's database.

use anyhow::Context;
use bale_db::tokens::{self, Revoked, Scope};
use bale_db::Database;
use bale_manifest::HumanDuration;
use bale_repo::server::auth::utc;

use crate::cli::TokenCommand;
use crate::exit::{refuse, Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(command: TokenCommand, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    match command {
        TokenCommand::Create {
            scope,
            expires,
            database,
        } => create(&scope, expires.as_deref(), database, machine, printer),
        TokenCommand::List { database } => list(database, machine, printer),
        TokenCommand::Revoke { id, database } => revoke(id, database, machine, printer),
    }
}

/// Opens the database named, else `$BALE_HOME/bale.db`, runs `work`, closes it.
fn with_database<T>(
    database: Option<String>,
    machine: &Machine,
    work: impl AsyncFnOnce(&Database) -> Result<T, bale_db::DbError>,
) -> Result<T, Failure> {
    let home = machine.home()?;
    std::fs::create_dir_all(home.root())
        .with_context(|| format!("creating {}", home.root().display()))
        .internal()?;
    let url = database.unwrap_or_else(|| Database::sqlite_url(&home.db_path()));
    let done = machine.runtime()?.block_on(async {
        let db = Database::connect(&url).await?;
        let done = work(&db).await;
        db.close().await;
        done
    });
    Ok(done?)
}

fn create(
    scope: &str,
    expires: Option<&str>,
    database: Option<String>,
    machine: &Machine,
    printer: &Printer,
) -> Result<(), Failure> {
    let scope: Scope = scope.parse()?;
    let lifetime = match expires {
        Some(text) => {
            let lifetime = HumanDuration::parse(text)?.as_duration();
            if lifetime.as_secs() == 0 {
                refuse!("--expires {text} would make a token that never works: give a lifetime of a second or more, e.g. 90d");
            }
            Some(lifetime)
        }
        None => None,
    };
    let created = with_database(database, machine, async |db| {
        tokens::create_expiring(db, scope, lifetime).await
    })?;
    if printer.json() {
        return printer.print_json(&serde_json::json!({
            "token": created.token, "id": created.id, "scope": scope.as_str(),
            "expires_at": created.expires_at,
        }));
    }
    printer.line(&created.token);
    let until = match created.expires_at {
        Some(at) => format!("until {} UTC", utc(at)),
        None => "until revoked".to_owned(),
    };
    printer.status(
        "Created",
        format!(
            "{scope} token {} ({until}); it is shown only once (set BALE_TOKEN to use it)",
            created.id
        ),
    );
    Ok(())
}

fn list(database: Option<String>, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let listed = with_database(database, machine, async |db| tokens::list(db).await)?;
    let now = i64::try_from(bale_fs::now_secs()).unwrap_or(i64::MAX);
    if printer.json() {
        let rows: Vec<_> = listed
            .iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.id, "scope": t.scope, "created_at": t.created_at,
                    "expires_at": t.expires_at, "revoked_at": t.revoked_at,
                    "last_used_at": t.last_used_at, "state": t.state(now),
                })
            })
            .collect();
        return printer.print_json(&rows);
    }
    if listed.is_empty() {
        printer.status(
            "Empty",
            "no tokens yet: create one with `bale token create --scope read|build|publish|admin`",
        );
        return Ok(());
    }
    let when = |at: Option<i64>, none: &str| at.map(utc).unwrap_or_else(|| none.to_owned());
    printer.line(format_args!(
        "{:>4}  {:<8} {:<20} {:<20} {:<20} STATE",
        "ID", "SCOPE", "CREATED (UTC)", "EXPIRES (UTC)", "LAST USED (UTC)"
    ));
    for t in &listed {
        printer.line(format_args!(
            "{:>4}  {:<8} {:<20} {:<20} {:<20} {}",
            t.id,
            t.scope.as_str(),
            utc(t.created_at),
            when(t.expires_at, "never"),
            when(t.last_used_at, "never"),
            t.state(now)
        ));
    }
    Ok(())
}

fn revoke(
    id: i64,
    database: Option<String>,
    machine: &Machine,
    printer: &Printer,
) -> Result<(), Failure> {
    let revoked = with_database(database, machine, async |db| tokens::revoke(db, id).await)?;
    let state = match revoked {
        Revoked::Now => "revoked",
        Revoked::Already => "already-revoked",
        Revoked::Unknown => {
            refuse!("no token has the id {id}: `bale token list` shows the ids")
        }
    };
    if printer.json() {
        return printer.print_json(&serde_json::json!({ "id": id, "state": state }));
    }
    match revoked {
        Revoked::Now => printer.status("Revoked", format!("token {id}: it is refused from now on")),
        _ => printer.status("Unchanged", format!("token {id} was already revoked")),
    }
    Ok(())
}
