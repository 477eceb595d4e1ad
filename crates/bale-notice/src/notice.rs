//! What a failure notice says, in JSON for webhooks and as text for e-mail.

use serde::{Deserialize, Serialize};

/// How many log lines a notice carries.
pub const LOG_TAIL_LINES: usize = 50;

/// Longer log lines are cut here, so one minified line cannot swell a notice.
const MAX_LINE_CHARS: usize = 1000;

/// A build's failure (or any end worth telling), for the package's maintainer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The package, `group:name:version`.
    pub coordinate: String,
    /// The build's id in the service.
    pub build_id: i64,
    /// The build's status, e.g. `failed`, `timed-out`, `not-reproducible`.
    pub status: String,
    /// Why, in one line (the build's error).
    pub reason: String,
    /// The last lines of the build's log (see [`log_tail`]).
    pub log_tail: Vec<String>,
    /// Where to see the build, e.g. `http://builder:7070/builds/42`.
    pub link: String,
    /// The manifest's `maintainer` (`Jane Doe <jane@example.org>`): also gets the e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintainer: Option<String>,
    /// For a build that did not reproduce: what differs between its two
    /// packages, one line each (`share/stamp: changed (sha256, size)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
}

impl Notice {
    /// The e-mail subject: `bale: <coordinate> build <status>`.
    pub fn subject(&self) -> String {
        format!("bale: {} build {}", self.coordinate, self.status)
    }

    /// The e-mail body: the reason, the log's last lines and the link.
    pub fn text(&self) -> String {
        let mut text = format!(
            "Build {} of {}: {}.\n\n{}\n\n",
            self.build_id, self.coordinate, self.status, self.reason
        );
        if !self.differences.is_empty() {
            text.push_str("What differs between the two builds' packages:\n\n");
            for difference in &self.differences {
                text.push_str("    ");
                text.push_str(difference);
                text.push('\n');
            }
            text.push('\n');
        }
        if !self.log_tail.is_empty() {
            text.push_str(&format!(
                "The last {} lines of the log:\n\n",
                self.log_tail.len()
            ));
            for line in &self.log_tail {
                text.push_str("    ");
                text.push_str(line);
                text.push('\n');
            }
            text.push('\n');
        }
        text.push_str(&format!(
            "The build, its whole log and its steps: {}\n",
            self.link
        ));
        text
    }
}

/// The last [`LOG_TAIL_LINES`] lines of a build log (bytes that are not UTF-8 are replaced;
/// very long lines are cut).
pub fn log_tail(log: impl AsRef<[u8]>) -> Vec<String> {
    let text = String::from_utf8_lossy(log.as_ref());
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    lines[start..]
        .iter()
        .map(|line| {
            let line = line.trim_end_matches('\r');
            match line.char_indices().nth(MAX_LINE_CHARS) {
                Some((cut, _)) => format!("{}…", &line[..cut]),
                None => line.to_owned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            coordinate: "acme:hello:1.2.0".into(),
            build_id: 42,
            status: "failed".into(),
            reason: "step `main` exited with status 2".into(),
            log_tail: vec![
                "cc -o hello hello.c".into(),
                "hello.c:3: error: expected ';'".into(),
            ],
            link: "http://builder:7070/builds/42".into(),
            maintainer: None,
            differences: Vec::new(),
        }
    }

    #[test]
    fn the_tail_keeps_the_last_fifty_lines_in_order() {
        let log: String = (1..=120).map(|i| format!("line {i}\r\n")).collect();
        let tail = log_tail(&log);
        assert_eq!(tail.len(), 50);
        assert_eq!(tail.first().map(String::as_str), Some("line 71"));
        assert_eq!(tail.last().map(String::as_str), Some("line 120"));
        assert_eq!(log_tail("one\ntwo"), vec!["one", "two"]);
        assert!(log_tail("").is_empty());
    }

    #[test]
    fn the_tail_survives_bytes_that_are_not_utf8_and_cuts_huge_lines() {
        let tail = log_tail(b"ok\n\xff\xfe broken\n");
        assert_eq!(
            tail,
            vec!["ok".to_owned(), "\u{fffd}\u{fffd} broken".to_owned()]
        );
        let huge = log_tail("é".repeat(5000));
        assert_eq!(huge[0].chars().count(), 1001);
        assert!(huge[0].ends_with('…'));
    }

    #[test]
    fn the_subject_and_text_carry_coordinate_status_reason_tail_and_link() {
        let notice = notice();
        assert_eq!(notice.subject(), "bale: acme:hello:1.2.0 build failed");
        let text = notice.text();
        for part in [
            "Build 42 of acme:hello:1.2.0: failed",
            "step `main` exited with status 2",
            "    hello.c:3: error: expected ';'",
            "http://builder:7070/builds/42",
        ] {
            assert!(text.contains(part), "{part} missing from\n{text}");
        }
    }

    #[test]
    fn a_build_that_did_not_reproduce_names_what_differs_in_text_and_json() {
        let notice = Notice {
            status: "not-reproducible".into(),
            differences: vec!["share/stamp: changed (sha256)".into()],
            ..notice()
        };
        let text = notice.text();
        assert!(
            text.contains("What differs between the two builds' packages:\n\n    share/stamp: changed (sha256)\n"),
            "{text}"
        );
        let value = serde_json::to_value(&notice).unwrap();
        assert_eq!(
            value["differences"],
            serde_json::json!(["share/stamp: changed (sha256)"])
        );
    }

    #[test]
    fn the_json_has_the_documented_fields() {
        let value = serde_json::to_value(notice()).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "build_id",
                "coordinate",
                "link",
                "log_tail",
                "reason",
                "status"
            ]
        );
    }
}
