//! Small pieces of HTML: escaping, sizes, durations, the page frame.

use std::fmt::Write;

/// Escapes text for an HTML element or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a URL path segment.
pub fn url_segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A byte count as people read it.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Milliseconds as people read them.
pub fn duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\
.status{font-weight:600}.succeeded{color:#1a7f37}.failed,.timed-out,.not-reproducible{color:#cf222e}\
.running{color:#9a6700}.queued,.canceled{color:#666}\
.bars{display:flex;width:24em;height:.9em;background:#eee}.bar{height:100%;border-right:1px solid #fff}\
.bar:nth-child(4n+1){background:#4c8bf5}.bar:nth-child(4n+2){background:#34a853}.bar:nth-child(4n+3){background:#fbbc04}.bar:nth-child(4n){background:#a142f4}\
pre.log{background:#111;color:#ddd;padding:.8em;max-height:40em;overflow:auto;white-space:pre-wrap}\
nav a{margin-right:1em}";

/// Wraps a page body in the document frame.
pub fn page(title: &str, body: &str, script: Option<&str>) -> String {
    let mut out = String::with_capacity(body.len() + 1024);
    out.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    let _ = write!(
        out,
        "<title>{} · bale</title><style>{STYLE}</style></head><body>",
        escape(title)
    );
    out.push_str("<nav><a href=\"/\">bale</a><a href=\"/#builds\">builds</a><a href=\"/#packages\">packages</a><a href=\"/#stacks\">stacks</a><a href=\"/#apps\">apps</a></nav>");
    out.push_str(body);
    if let Some(script) = script {
        let _ = write!(out, "<script>{script}</script>");
    }
    out.push_str("</body></html>\n");
    out
}
