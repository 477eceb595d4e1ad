//! Notices delivered to a real local HTTP receiver (axum) and a real local
//! SMTP server (aiosmtpd, from PyPI), each channel independent of the other.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::Json;
use bale_notice::{log_tail, send, Delivered, Notice, NoticeConfig, NoticeError, SmtpConfig};
use bale_testkit::{free_port, wait_for_port, ProcessGuard};

fn notice() -> Notice {
    let log: String = (1..=80).map(|i| format!("step main: line {i}\n")).collect();
    Notice {
        coordinate: "acme:hello:1.2.0".into(),
        build_id: 42,
        status: "failed".into(),
        reason: "step `main` exited with status 2".into(),
        log_tail: log_tail(log),
        link: "http://127.0.0.1:7070/builds/42".into(),
        maintainer: Some("Jane Doe <jane@example.org>".into()),
        differences: Vec::new(),
    }
}

/// An HTTP receiver on 127.0.0.1 that records each JSON body and answers `status`.
async fn receiver(status: StatusCode) -> (url::Url, Arc<Mutex<Vec<serde_json::Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |Json(body): Json<serde_json::Value>| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(body);
                (status, "receiver says no")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook").parse().unwrap(), seen)
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    free_port()
}

/// aiosmtpd writing each message it accepts into a Maildir; killed on drop.
struct SmtpServer {
    port: u16,
    maildir: PathBuf,
    _child: ProcessGuard,
    _tmp: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts aiosmtpd, or `None` (with the reason printed) when it is not installed
    /// outside CI; under CI=true a missing aiosmtpd fails the test.
    fn start() -> Option<SmtpServer> {
        let installed = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !bale_testkit::require(installed, "aiosmtpd is not installed (python3 -m pip install aiosmtpd; scripts/setup does), so the e-mail part does not run") {
            return None;
        }
        let tmp = tempfile::tempdir().unwrap();
        let maildir = tmp.path().join("mail");
        let port = closed_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let child = ProcessGuard::new(child);
        let server = SmtpServer {
            port,
            maildir,
            _child: child,
            _tmp: tmp,
        };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // Readiness, not timing: the bound only stops a broken setup from hanging the test.
        wait_for_port(addr, Duration::from_secs(30), "aiosmtpd");
        Some(server)
    }

    fn config(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            from: "bale <bale@builder.example.org>".into(),
            to: vec!["team@example.org".into()],
            username: None,
            password: None,
            starttls: false,
        }
    }

    /// The messages received, as raw text.
    fn messages(&self) -> Vec<String> {
        read_dir(&self.maildir.join("new"))
    }
}

fn read_dir(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The header block of a raw message, unfolded, and its body.
fn split_message(raw: &str) -> (String, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap();
    (
        head.replace("\n ", " ").replace("\n\t", " "),
        body.to_owned(),
    )
}

#[tokio::test]
async fn a_webhook_receives_the_notice_as_json() {
    let (url, seen) = receiver(StatusCode::OK).await;
    let config = NoticeConfig {
        webhook: Some(url),
        smtp: None,
    };
    let delivered = send(&config, &notice()).await.unwrap();
    assert_eq!(
        delivered,
        Delivered {
            webhook: true,
            email: false
        }
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let body = &seen[0];
    assert_eq!(body["coordinate"], "acme:hello:1.2.0");
    assert_eq!(body["build_id"], 42);
    assert_eq!(body["status"], "failed");
    assert_eq!(body["reason"], "step `main` exited with status 2");
    assert_eq!(body["link"], "http://127.0.0.1:7070/builds/42");
    let tail = body["log_tail"].as_array().unwrap();
    assert_eq!(tail.len(), 50);
    assert_eq!(
        (tail[0].as_str(), tail[49].as_str()),
        (Some("step main: line 31"), Some("step main: line 80"))
    );
    assert_eq!(
        body["text"],
        "bale: acme:hello:1.2.0 build failed: step `main` exited with status 2"
    );
}

#[tokio::test]
async fn a_webhook_that_answers_an_error_is_reported_with_its_status() {
    let (url, _) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;
    let config = NoticeConfig {
        webhook: Some(url),
        smtp: None,
    };
    let Err(NoticeError::Undelivered {
        delivered,
        failures,
    }) = send(&config, &notice()).await
    else {
        panic!("a 500 counted as delivered")
    };
    assert_eq!(delivered, Delivered::default());
    let text = failures[0].to_string();
    assert!(
        text.contains("500") && text.contains("receiver says no"),
        "{text}"
    );
}

#[tokio::test]
async fn nothing_configured_sends_nothing_and_succeeds() {
    assert_eq!(
        send(&NoticeConfig::default(), &notice()).await.unwrap(),
        Delivered::default()
    );
}

#[tokio::test]
async fn an_smtp_server_receives_the_mail_with_subject_reason_tail_and_link() {
    let Some(smtp) = SmtpServer::start() else {
        return;
    };
    let config = NoticeConfig {
        webhook: None,
        smtp: Some(smtp.config()),
    };
    let delivered = send(&config, &notice()).await.unwrap();
    assert_eq!(
        delivered,
        Delivered {
            webhook: false,
            email: true
        }
    );
    let messages = smtp.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let (head, body) = split_message(&messages[0]);
    assert!(
        head.contains("Subject: bale: acme:hello:1.2.0 build failed"),
        "{head}"
    );
    assert!(
        head.contains("To: team@example.org, \"Jane Doe\" <jane@example.org>"),
        "{head}"
    );
    assert!(
        head.contains("From: bale <bale@builder.example.org>"),
        "{head}"
    );
    assert!(body.contains("step `main` exited with status 2"), "{body}");
    assert!(body.contains("The last 50 lines of the log:"), "{body}");
    assert!(
        body.contains("    step main: line 80\n") && !body.contains("line 30\n"),
        "{body}"
    );
    assert!(body.contains("http://127.0.0.1:7070/builds/42"), "{body}");
}

#[tokio::test]
async fn a_dead_webhook_does_not_stop_the_mail() {
    let Some(smtp) = SmtpServer::start() else {
        return;
    };
    let dead: url::Url = format!("http://127.0.0.1:{}/hook", closed_port())
        .parse()
        .unwrap();
    let config = NoticeConfig {
        webhook: Some(dead),
        smtp: Some(smtp.config()),
    };
    let Err(NoticeError::Undelivered {
        delivered,
        failures,
    }) = send(&config, &notice()).await
    else {
        panic!("a dead webhook counted as delivered")
    };
    assert_eq!(
        delivered,
        Delivered {
            webhook: false,
            email: true
        }
    );
    assert_eq!(failures.len(), 1);
    assert!(
        matches!(&failures[0], NoticeError::Webhook { .. }),
        "{:?}",
        failures[0]
    );
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test]
async fn a_dead_smtp_server_does_not_stop_the_webhook() {
    let (url, seen) = receiver(StatusCode::OK).await;
    let smtp = SmtpConfig {
        host: "127.0.0.1".into(),
        port: closed_port(),
        from: "bale@example.org".into(),
        to: vec!["team@example.org".into()],
        username: None,
        password: None,
        starttls: false,
    };
    let config = NoticeConfig {
        webhook: Some(url),
        smtp: Some(smtp),
    };
    let Err(NoticeError::Undelivered {
        delivered,
        failures,
    }) = send(&config, &notice()).await
    else {
        panic!("a dead SMTP server counted as delivered")
    };
    assert_eq!(
        delivered,
        Delivered {
            webhook: true,
            email: false
        }
    );
    assert!(
        matches!(&failures[0], NoticeError::Email { .. }),
        "{:?}",
        failures[0]
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    let text = NoticeError::Undelivered {
        delivered,
        failures,
    }
    .to_string();
    assert!(
        text.contains("mailing the notice through 127.0.0.1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_bad_address_fails_only_the_mail_and_names_the_address() {
    let (url, seen) = receiver(StatusCode::OK).await;
    let mut notice = notice();
    notice.maintainer = Some("not an address".into());
    let smtp = SmtpConfig {
        host: "127.0.0.1".into(),
        port: closed_port(),
        from: "bale@example.org".into(),
        to: vec![],
        username: None,
        password: None,
        starttls: false,
    };
    let config = NoticeConfig {
        webhook: Some(url),
        smtp: Some(smtp),
    };
    let Err(NoticeError::Undelivered { failures, .. }) = send(&config, &notice).await else {
        panic!("sent")
    };
    assert!(
        failures[0]
            .to_string()
            .contains("`not an address` is not an e-mail address"),
        "{}",
        failures[0]
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}
