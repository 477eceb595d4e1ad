//! Whether a service is healthy: its kit's check, an HTTP `GET` on its
//! port or a command, passes before the kit's timeout.

use std::process::Stdio;
use std::time::{Duration, Instant};

use bale_manifest::HealthCheck;

use super::{log_tail, state, Service, ServiceState};
use crate::deployment::AppDirs;
use crate::runner::{Isolation, Role, RunContext};
use crate::DeployError;

/// Waits until `service` is healthy: its kit's check passes within the kit's
/// timeout; without a check, it is still running.
pub fn wait_healthy(
    isolation: Isolation,
    ctx: &RunContext,
    app: &AppDirs,
    service: &Service,
) -> Result<(), DeployError> {
    let unhealthy = |reason: String| DeployError::Unhealthy {
        service: service.name.clone(),
        reason,
        log: log_tail(app, &service.name),
    };
    let Some(health) = &service.health else {
        return match state(app, &service.name) {
            ServiceState::Running { .. } => Ok(()),
            ServiceState::Stopped => Err(unhealthy("it exited".into())),
        };
    };
    let deadline = Instant::now() + health.timeout();
    let mut probe: Option<HttpProbe> = None;
    loop {
        if state(app, &service.name) == ServiceState::Stopped {
            return Err(unhealthy("it exited".into()));
        }
        let attempt = match &health.check {
            HealthCheck::Http(path) => match service.port {
                Some(port) => match &probe {
                    Some(probe) => probe.check(port, path),
                    None => HttpProbe::new().and_then(|made| probe.insert(made).check(port, path)),
                },
                None => Err(format!(
                    "its kit checks http {path} but gives no port; add `ports` to the kit"
                )),
            },
            HealthCheck::Command(script) => {
                command_check(isolation, ctx, service, script, deadline)
            }
        };
        let last = match attempt {
            Ok(()) => return Ok(()),
            Err(reason) => reason,
        };
        if Instant::now() >= deadline {
            return Err(unhealthy(format!(
                "{last} (gave up after {}s)",
                health.timeout().as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET http://127.0.0.1:PORT/PATH` with the project's HTTP client, on a
/// runtime of its own: services are started and watched from plain threads.
/// Made on the first HTTP check, so a service without one pays nothing.
struct HttpProbe {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl HttpProbe {
    fn new() -> Result<HttpProbe, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP health check: {e}"))?;
        // The client's timers belong to the runtime it is made in.
        let _in_runtime = runtime.enter();
        // The service is on this machine: a proxy from the environment must
        // not answer for it, and a redirect is not a healthy answer.
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot start the HTTP health check: {e}"))?;
        Ok(HttpProbe { runtime, client })
    }

    /// One `GET path` on 127.0.0.1:port; Ok on a 2xx answer.
    fn check(&self, port: u16, path: &str) -> Result<(), String> {
        let url = format!("http://127.0.0.1:{port}{path}");
        let status = self
            .runtime
            // Inside the runtime: sending starts the request's timer at once.
            .block_on(async { self.client.get(&url).send().await })
            .map_err(|e| format!("{url}: {}", reason(&e)))?
            .status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{url} answered `{status}`"))
        }
    }
}

/// What went wrong, down to the cause (reqwest's own message alone says
/// only "error sending request").
fn reason(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// One run of a health command, stopped at the deadline; Ok when it exits 0.
fn command_check(
    isolation: Isolation,
    ctx: &RunContext,
    service: &Service,
    script: &str,
    deadline: Instant,
) -> Result<(), String> {
    let mut child = ctx
        .shell(
            isolation,
            script,
            &[],
            Role::Health { port: service.port },
            &[],
        )
        .map_err(|e| bale_api::error::with_causes(&e))?
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run `{script}`: {e}"))?;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("`{script}` {status}")),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("`{script}` did not finish in time"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(25)),
            Err(e) => return Err(format!("`{script}`: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// A server on 127.0.0.1 that answers each connection with `answer`; its port.
    fn answering(answer: &'static str) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        port
    }

    #[test]
    fn a_2xx_answer_is_healthy() {
        let port = answering("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
        let probe = HttpProbe::new().expect("probe");
        assert_eq!(probe.check(port, "/healthz"), Ok(()));
    }

    #[test]
    fn an_error_or_a_redirect_is_not_healthy_and_the_reason_shows_the_status() {
        let probe = HttpProbe::new().expect("probe");
        let failing = answering("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(
            probe.check(failing, "/healthz"),
            Err(format!(
                "http://127.0.0.1:{failing}/healthz answered `503 Service Unavailable`"
            ))
        );
        let moved = answering(
            "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n",
        );
        let reason = probe.check(moved, "/").expect_err("a redirect");
        assert!(reason.ends_with("answered `302 Found`"), "{reason}");
    }

    #[test]
    fn nothing_listening_says_why() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        let reason = HttpProbe::new()
            .expect("probe")
            .check(port, "/healthz")
            .expect_err("nothing listens");
        assert!(
            reason.starts_with(&format!("http://127.0.0.1:{port}/healthz: ")),
            "{reason}"
        );
        assert!(reason.contains("refused"), "the cause is named: {reason}");
    }
}
