//! `bale key generate|trust|list` and `bale sign`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bale_home::{env, Home};
use bale_sign::{KdfLimits, KeyPair, Keyring, PublicKey, SecretKey};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cli::{KeyCommand, SignArgs};
use crate::exit::{refuse, Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(command: KeyCommand, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let home = machine.home()?;
    match command {
        KeyCommand::Generate {
            name,
            password_file,
            password_env,
        } => {
            let password = match (password_file, password_env) {
                (Some(file), _) => Some(password_from_file(&file)?),
                (None, Some(var)) => Some(password_from_env(&var)?),
                (None, None) => None,
            };
            generate(
                home,
                &name,
                password.as_ref().map(|p| p.as_bytes()),
                printer,
            )
        }
        KeyCommand::Trust { file, name } => trust(home, &file, name, printer),
        KeyCommand::List => list(home, printer),
    }
}

fn generate(
    home: &Home,
    name: &str,
    password: Option<&[u8]>,
    printer: &Printer,
) -> Result<(), Failure> {
    let pair = KeyPair::generate()?;
    let keys = home.keys_dir();
    fs::create_dir_all(&keys)
        .with_context(|| format!("creating {}", keys.display()))
        .internal()?;
    match password {
        Some(password) => {
            bale_sign::write_encrypted_key_pair(&keys, name, &pair, password, KdfLimits::MINISIGN)?
        }
        None => bale_sign::write_key_pair(&keys, name, &pair)?,
    };
    Keyring::add(&home.trusted_keys_dir(), &pair.public, name)?;
    let id = pair.public.key_id().to_string();
    if printer.json() {
        return printer.print_json(&serde_json::json!({
            "name": name, "key_id": id, "encrypted": password.is_some(),
            "secret_key": keys.join(format!("{name}.key")),
            "public_key": keys.join(format!("{name}.pub")),
        }));
    }
    let encrypted = if password.is_some() {
        ", encrypted with the password"
    } else {
        ""
    };
    printer.status(
        "Generated",
        format!("key {name} ({id}{encrypted}), trusted on this machine"),
    );
    printer.line(format!(
        "secret key: {}",
        keys.join(format!("{name}.key")).display()
    ));
    printer.line(format!(
        "public key: {}",
        keys.join(format!("{name}.pub")).display()
    ));
    Ok(())
}

fn trust(home: &Home, file: &Path, name: Option<String>, printer: &Printer) -> Result<(), Failure> {
    let text = fs::read_to_string(file)
        .with_context(|| format!("reading public key {}", file.display()))?;
    let key = PublicKey::from_file_string(&text)
        .or_else(|_| PublicKey::from_base64(text.trim()))
        .with_context(|| format!("{} is not a minisign public key", file.display()))?;
    let name = match name {
        Some(n) => n,
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("key")
            .to_owned(),
    };
    Keyring::add(&home.trusted_keys_dir(), &key, &name)?;
    printer.status("Trusted", format!("key {name} ({})", key.key_id()));
    Ok(())
}

#[derive(Serialize)]
struct KeyRow {
    name: String,
    key_id: String,
    path: PathBuf,
}

fn list(home: &Home, printer: &Printer) -> Result<(), Failure> {
    let ring = Keyring::load(&home.trusted_keys_dir())?;
    let rows: Vec<KeyRow> = ring
        .keys()
        .iter()
        .map(|k| KeyRow {
            name: k.name.clone(),
            key_id: k.public_key.key_id().to_string(),
            path: k.path.clone(),
        })
        .collect();
    if printer.json() {
        return printer.print_json(&rows);
    }
    if rows.is_empty() {
        printer.line("no trusted keys (run `bale key generate` or `bale key trust FILE.pub`)");
    }
    for row in rows {
        printer.line(format!(
            "{}  {}  {}",
            row.key_id,
            row.name,
            row.path.display()
        ));
    }
    Ok(())
}

pub fn sign(args: SignArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let key = load_secret_key(machine.home()?, args.key.as_deref())?;
    let sig_path = sign_file(&key, &args.file)?;
    printer.status("Signed", sig_path.display());
    // A provenance written without a key is signed along with its package.
    if let Some(provenance) = bale_sbom::sign_beside(&args.file, &key)? {
        printer.status("Signed", provenance.display());
    }
    Ok(())
}

/// Finds a secret key by name in `$BALE_HOME/keys`, or by path.
pub fn load_secret_key(home: &Home, key: Option<&str>) -> Result<SecretKey, Failure> {
    let key = key.unwrap_or("default");
    let path = if key.contains('/') || key.ends_with(".key") {
        PathBuf::from(key)
    } else {
        home.keys_dir().join(format!("{key}.key"))
    };
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => refuse!(
            "no secret key at {}: run `bale key generate` (or pass --key PATH)",
            path.display()
        ),
        Err(e) => {
            return Err(anyhow::Error::from(e)
                .context(format!("reading {}", path.display()))
                .into())
        }
    };
    let key = if SecretKey::file_is_encrypted(&text) {
        let password = signing_password(&path)?;
        SecretKey::from_file_string_with_password(&text, password.as_bytes())
    } else {
        SecretKey::from_file_string(&text)
    };
    Ok(key.with_context(|| format!("reading secret key {}", path.display()))?)
}

/// The password of the encrypted key at `key`: BALE_KEY_PASSWORD_FILE's
/// first line, else BALE_KEY_PASSWORD.
fn signing_password(key: &Path) -> Result<Zeroizing<String>, Failure> {
    if let Some(file) = env::non_blank(env::BALE_KEY_PASSWORD_FILE) {
        return password_from_file(Path::new(&file));
    }
    match std::env::var(env::BALE_KEY_PASSWORD) {
        Ok(password) if !password.is_empty() => Ok(Zeroizing::new(password)),
        _ => refuse!(
            "{} is encrypted with a password and none was given: set {} to a file holding it (or {})",
            key.display(),
            env::BALE_KEY_PASSWORD_FILE,
            env::BALE_KEY_PASSWORD
        ),
    }
}

/// A password file's first line, as minisign reads a password: up to the
/// first line end, nothing else trimmed.
fn password_from_file(file: &Path) -> Result<Zeroizing<String>, Failure> {
    let text = Zeroizing::new(
        fs::read_to_string(file)
            .with_context(|| format!("reading the password file {}", file.display()))?,
    );
    let password = text.split(['\n', '\r']).next().unwrap_or_default();
    if password.is_empty() {
        refuse!(
            "the password file {} is empty: write the password on its first line",
            file.display()
        );
    }
    Ok(Zeroizing::new(password.to_owned()))
}

/// The password in environment variable `var` (`--password-env`).
fn password_from_env(var: &str) -> Result<Zeroizing<String>, Failure> {
    match std::env::var(var) {
        Ok(password) if !password.is_empty() => Ok(Zeroizing::new(password)),
        _ => refuse!("--password-env {var}: the variable {var} is not set or is empty"),
    }
}

/// Signs a file, writing `FILE.minisig` beside it atomically.
pub fn sign_file(key: &SecretKey, file: &Path) -> Result<PathBuf, Failure> {
    let secs = bale_fs::now_secs();
    Ok(bale_sign::sign_file(key, file, secs)
        .with_context(|| format!("signing {}", file.display()))?)
}
