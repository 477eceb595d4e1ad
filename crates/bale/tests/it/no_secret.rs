//! No secret anywhere: a bearer token, a signing key's password and an app's
//! secret are planted, then a package is built by the service, packed,
//! published, served and deployed; none of them may show up in what bale
//! stores under BALE_HOME (but the app's env file and deployment records,
//! which are meant to hold its secret, mode 0600), in the server's log, in a build record or log,
//! in `--json` outputs, or on any process's command line while it all runs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::common::{self, free_port, Scratch};

/// Secrets that no file, record, output or command line may contain.
struct Planted(Vec<String>);

impl Planted {
    /// The secrets found in `bytes`.
    fn in_bytes(&self, bytes: &[u8]) -> Vec<&str> {
        self.0
            .iter()
            .filter(|secret| {
                bytes
                    .windows(secret.len())
                    .any(|window| window == secret.as_bytes())
            })
            .map(String::as_str)
            .collect()
    }

    fn assert_absent(&self, what: &str, bytes: &[u8]) {
        let found = self.in_bytes(bytes);
        assert!(found.is_empty(), "{what} contains the secret(s) {found:?}");
    }
}

/// Every regular file under `dir`.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            files_under(&entry.path(), out);
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
}

/// Reads every process's command line until stopped; returns the ones
/// that carried a secret.
fn watch_command_lines(
    planted: Arc<Planted>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let seen = Mutex::new(Vec::new());
        while !stop.load(Ordering::SeqCst) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let name = entry.file_name();
                if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
                    if !planted.in_bytes(&cmdline).is_empty() {
                        let shown = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                        seen.lock().expect("lock").push(shown);
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        seen.into_inner().expect("lock")
    })
}

fn stdout_of(out: &std::process::Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

/// A package whose build writes the environment it was given into the
/// package: a hostile manifest fishing for credentials.
const FISHING: &str = r#"[package]
group = "org.example"
name = "fishing"
version = "1.0.0"

[stack]
name = "host"
kind = "static"

[build]
main = ["mkdir -p $BALE_PREFIX/share", "env > $BALE_PREFIX/share/env.txt", "ps -eo args > $BALE_PREFIX/share/ps.txt || true"]
"#;

const APP: &str = r#"[package]
group = "org.example"
name = "quiet"
version = "1.0.0"

[stack]
name = "host"

[hooks]
post-install = ["test -n \"$APP_SECRET\""]
"#;

#[test]
fn planted_secrets_appear_nowhere_but_where_they_are_kept() {
    let s = Scratch::new();
    let nonce = format!(
        "{:x}",
        bale_testkit::free_port() as u64 * 7919 + std::process::id() as u64
    );
    let key_password = format!("keypw-{nonce}-horse");
    let app_secret = format!("appsecret-{nonce}-staple");
    s.write("pw.txt", &format!("{key_password}\n"));
    std::fs::create_dir_all(s.home()).expect("home");
    std::fs::write(s.home().join("config.toml"), "isolation = \"none\"\n").expect("config");

    let out = s
        .bale()
        .args(["key", "generate", "--password-file", "pw.txt", "--json"])
        .output()
        .expect("bale key generate");
    let key_json = stdout_of(&out, "bale key generate");
    let mut tokens = Vec::new();
    let mut token_outputs = Vec::new();
    for scope in ["build", "publish", "read"] {
        let out = s
            .bale()
            .args(["token", "create", "--scope", scope])
            .output()
            .expect("bale token create");
        tokens.push(
            String::from_utf8_lossy(&stdout_of(&out, "token"))
                .trim()
                .to_owned(),
        );
        // Its stderr says what was made, never the token again.
        token_outputs.push(out.stderr);
    }
    let (build_token, publish_token, read_token) =
        (tokens[0].clone(), tokens[1].clone(), tokens[2].clone());
    let planted = Arc::new(Planted(vec![
        build_token.clone(),
        publish_token.clone(),
        read_token.clone(),
        // The part after the prefix: a shortened token is a secret too.
        build_token[5..37].to_owned(),
        key_password.clone(),
        app_secret.clone(),
    ]));
    planted.assert_absent("bale key generate --json", &key_json);
    for stderr in &token_outputs {
        planted.assert_absent("bale token create's messages", stderr);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_command_lines(Arc::clone(&planted), Arc::clone(&stop));

    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let serve_log = s.path().join("serve.log");
    let _server = s
        .serve()
        .port(port)
        .args(["--allow-local-sources", "--workers", "1"])
        .env("BALE_KEY_PASSWORD", &key_password)
        .env("RUST_LOG", "debug")
        .log(&serve_log)
        .start();

    // A build by the service: signed with the encrypted key, published.
    s.write("fishing/bale.toml", FISHING);
    let out = s
        .bale()
        .args(["submit", "fishing", "--wait"])
        .env("BALE_REPO", &url)
        .env("BALE_TOKEN", &build_token)
        .output()
        .expect("bale submit");
    let submitted = stdout_of(&out, "bale submit --wait");
    planted.assert_absent("bale submit's output", &submitted);
    planted.assert_absent("bale submit's messages", &out.stderr);
    let id: i64 = String::from_utf8_lossy(&submitted)
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
        .expect("the build id");
    for path in [
        format!("/api/v1/builds/{id}"),
        format!("/api/v1/builds/{id}/log"),
        "/api/v1/builds".to_owned(),
        "/metrics".to_owned(),
        "/".to_owned(),
    ] {
        let (status, body) = common::get_with_token(&format!("{url}{path}"), Some(&read_token));
        assert_eq!(status, 200, "GET {path}");
        planted.assert_absent(&format!("GET {path}"), &body);
    }
    let record = common::get_json(&format!("{url}/api/v1/builds/{id}")).expect("the record");
    assert_eq!(record["status"], "succeeded", "{record}");
    assert!(
        record["requested_by"]
            .as_str()
            .is_some_and(|by| by.starts_with("token ")),
        "{record}"
    );

    // The build's package: what the hostile manifest saw of its environment.
    let out = s
        .bale()
        .args([
            "fetch",
            "org.example:fishing:1.0.0",
            "--repo",
            &url,
            "-o",
            "fetched",
        ])
        .output()
        .expect("bale fetch");
    stdout_of(&out, "bale fetch");
    let out = s
        .bale()
        .args(["install", "org.example:fishing:1.0.0", "--repo", &url])
        .output()
        .expect("bale install");
    stdout_of(&out, "bale install");
    let share = s.home().join("pkgs/org/example/fishing/1.0.0/share");
    let env_seen = std::fs::read(share.join("env.txt")).expect("the build wrote its environment");
    planted.assert_absent("the environment a build sees", &env_seen);
    if let Ok(ps_seen) = std::fs::read(share.join("ps.txt")) {
        planted.assert_absent("the processes a build sees", &ps_seen);
    }

    // A package packed and signed here, published with the publish token.
    s.write("root/share/hello.txt", "hello\n");
    s.write("bale.toml", APP);
    let out = s
        .bale()
        .env("BALE_KEY_PASSWORD_FILE", s.path().join("pw.txt"))
        .args([
            "pack",
            "root",
            "--manifest",
            "bale.toml",
            "--key",
            "default",
        ])
        .output()
        .expect("bale pack");
    stdout_of(&out, "bale pack");
    let out = s
        .bale()
        .env("BALE_TOKEN", &publish_token)
        .args(["publish", "quiet-1.0.0-all.bale", "--repo", &url, "--json"])
        .output()
        .expect("bale publish");
    planted.assert_absent("bale publish --json", &stdout_of(&out, "bale publish"));

    // Deployed with a secret from standard input.
    let out = s
        .bale()
        .args(["deploy", "quiet", "quiet-1.0.0-all.bale", "--env-file", "-"])
        .write_stdin(format!("APP_SECRET={app_secret}\n"))
        .output()
        .expect("bale deploy");
    stdout_of(&out, "bale deploy");
    planted.assert_absent("bale deploy's messages", &out.stderr);

    for args in [
        &["apps", "--json"][..],
        &["token", "list", "--json"],
        &["key", "list", "--json"],
        &["builds", "--json", "--server", &url],
    ] {
        let out = s
            .bale()
            .env("BALE_TOKEN", &read_token)
            .args(args)
            .output()
            .expect("bale");
        planted.assert_absent(&format!("bale {args:?}"), &stdout_of(&out, "bale"));
    }

    stop.store(true, Ordering::SeqCst);
    let command_lines = watcher.join().expect("the watcher");
    assert!(
        command_lines.is_empty(),
        "secrets on command lines: {command_lines:?}"
    );

    // Everything stored. The app's secret is kept where it is meant to be:
    // its env file (what the next deploy starts from) and each deployment's
    // record (the variables that deployment runs with, for a rollback); those
    // hold it, and nothing else, with mode 0600.
    let env_file = s.home().join("apps/quiet/env");
    let deployments = s.home().join("apps/quiet/deployments");
    let mut stored = Vec::new();
    files_under(&s.home(), &mut stored);
    assert!(
        stored.len() > 10,
        "only {} files under BALE_HOME",
        stored.len()
    );
    let (keepers, others): (Vec<&PathBuf>, Vec<&PathBuf>) = stored.iter().partition(|f| {
        **f == env_file
            || (f.starts_with(&deployments)
                && f.file_name().is_some_and(|n| n == "deployment.json"))
    });
    assert!(
        keepers.contains(&&env_file) && keepers.len() >= 2,
        "{keepers:?}"
    );
    use std::os::unix::fs::PermissionsExt;
    for keeper in keepers {
        let kept = std::fs::read(keeper).expect("a file that keeps the app's secret");
        assert_eq!(
            planted.in_bytes(&kept),
            [app_secret.as_str()],
            "{}",
            keeper.display()
        );
        let mode = std::fs::metadata(keeper)
            .expect("mode")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{} is mode {mode:o}", keeper.display());
    }
    for file in others {
        if let Ok(bytes) = std::fs::read(file) {
            planted.assert_absent(&file.display().to_string(), &bytes);
        }
    }
    planted.assert_absent(
        "the server's log",
        &std::fs::read(&serve_log).expect("serve log"),
    );
}
