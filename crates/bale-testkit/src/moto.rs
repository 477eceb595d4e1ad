//! A real S3 server for the storage tests: moto's `moto_server`.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::net::http_request;
use crate::{free_port, require, wait_for_port, ProcessGuard};

/// A moto S3 server on a free 127.0.0.1 port, stopped when dropped.
pub struct Moto {
    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub endpoint: String,
    port: u16,
    _process: ProcessGuard,
}

impl Moto {
    /// Starts `moto_server`; `None` (said) when it is not installed, and a
    /// failed test under `CI=true` (see [`require`]).
    pub fn start() -> Option<Moto> {
        let installed = Command::new("moto_server")
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !require(
            installed,
            "moto_server is not installed (pip install 'moto[server]'), so the S3 variant does not run",
        ) {
            return None;
        }
        let port = free_port();
        let process = ProcessGuard::spawn(
            Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "moto_server",
        );
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_for_port(addr, Duration::from_secs(60), "moto_server");
        Some(Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            _process: process,
        })
    }

    /// Creates `bucket` (moto takes any credentials).
    pub fn create_bucket(&self, bucket: &str) {
        let answer = http_request(self.port, "PUT", &format!("/{bucket}"));
        assert!(
            matches!(answer, Some((200..=299, _))),
            "creating bucket {bucket} on moto: {answer:?}"
        );
    }
}
