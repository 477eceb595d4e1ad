//! `bale serve` as a background process on a free loopback port.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::{free_port, http_get, wait_until, ProcessGuard};

/// How to start `bale serve`: the binary (the bale crate's tests know it as
/// `CARGO_BIN_EXE_bale`), its BALE_HOME, and what else it gets.
pub struct BaleServe {
    bale: PathBuf,
    home: PathBuf,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
    log: Option<PathBuf>,
    port: Option<u16>,
}

/// A running `bale serve`, killed when dropped.
pub struct Served {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The port it listens on.
    pub port: u16,
    process: ProcessGuard,
}

impl BaleServe {
    /// `bale serve` of binary `bale` with BALE_HOME `home` and no colour.
    pub fn new(bale: impl Into<PathBuf>, home: impl Into<PathBuf>) -> BaleServe {
        BaleServe {
            bale: bale.into(),
            home: home.into(),
            args: Vec::new(),
            envs: Vec::new(),
            dir: None,
            log: None,
            port: None,
        }
    }

    /// More arguments after `serve --listen 127.0.0.1:PORT`.
    pub fn args<I, S>(mut self, args: I) -> BaleServe
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// One more environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> BaleServe {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// The working directory of the process.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> BaleServe {
        self.dir = Some(dir.into());
        self
    }

    /// Standard output and error go to this file (else nowhere).
    pub fn log(mut self, path: impl Into<PathBuf>) -> BaleServe {
        self.log = Some(path.into());
        self
    }

    /// Listens on this port instead of a free one found now.
    pub fn port(mut self, port: u16) -> BaleServe {
        self.port = Some(port);
        self
    }

    /// Starts it and waits (up to a minute) until `GET /api/v1/health` answers.
    pub fn start(self) -> Served {
        let port = self.port.unwrap_or_else(free_port);
        let mut command = Command::new(&self.bale);
        command
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(&self.args)
            .env("BALE_HOME", &self.home)
            .env("NO_COLOR", "1")
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        match &self.log {
            Some(path) => {
                let log = std::fs::File::create(path)
                    .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
                let err = log.try_clone().expect("a second handle on the log");
                command.stdout(log).stderr(err);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        // Guarded from the start, so a failed wait still stops it.
        let mut process = ProcessGuard::spawn(&mut command, "bale serve");
        let url = format!("http://127.0.0.1:{port}");
        wait_until(
            Duration::from_secs(60),
            &format!("bale serve on {url}"),
            || {
                if let Ok(Some(status)) = process.child().try_wait() {
                    panic!(
                        "bale serve exited with {status} before answering{}",
                        log_hint(&self.log)
                    );
                }
                http_get(port, "/api/v1/health").is_some()
            },
        );
        Served { url, port, process }
    }
}

fn log_hint(log: &Option<PathBuf>) -> String {
    match log {
        Some(path) => format!("; its log: {}", read_log(path)),
        None => String::new(),
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl Served {
    /// The process id of the server.
    pub fn id(&self) -> u32 {
        self.process.id()
    }

    /// The server's process, to signal it or wait for it.
    pub fn process(&mut self) -> &mut ProcessGuard {
        &mut self.process
    }
}
