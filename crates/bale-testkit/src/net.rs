//! Loopback ports and plain HTTP, without a client library.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::wait_until;

/// A port on 127.0.0.1 that was free a moment ago (good enough for a test).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port on 127.0.0.1")
        .port()
}

/// Waits (up to `timeout`) until something accepts connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration, what: &str) {
    wait_until(timeout, &format!("{what} to listen on {addr}"), || {
        TcpStream::connect(addr).is_ok()
    });
}

/// The body of `GET path` on 127.0.0.1:`port` when it answers 2xx; `None`
/// when nothing answers, or with another status.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let (status, body) = http_request(port, "GET", path)?;
    (200..300).contains(&status).then_some(body)
}

/// The status and body of a body-less request on 127.0.0.1:`port`.
pub(crate) fn http_request(port: u16, method: &str, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    // HTTP/1.0: the server closes the connection after the answer, so reading to the end is the body.
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.trim().to_owned()))
}
