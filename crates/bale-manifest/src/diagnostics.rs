//! Problems found in a manifest, each pointing at the bytes it is about,
//! rendered the way rustc renders errors.

use std::fmt;
use std::ops::Range;

use annotate_snippets::{Level, Renderer, Snippet};
use serde::Serialize;

/// One problem in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// What is wrong, in one line.
    pub message: String,
    /// The bytes of the source the problem is about; `None` for the file as a whole.
    pub span: Option<Range<usize>>,
    /// Text shown under the underlined bytes.
    pub label: String,
    /// What would be right.
    pub help: Option<String>,
    /// Other places that explain the problem (e.g. the first of two duplicates).
    pub related: Vec<(Range<usize>, String)>,
}

impl Diagnostic {
    /// A problem at `span` with a message and the label under the span.
    pub fn new(
        span: Option<Range<usize>>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            message: message.into(),
            span,
            label: label.into(),
            help: None,
            related: Vec::new(),
        }
    }

    /// Adds what would be right.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a second place that explains the problem.
    pub fn related(mut self, span: Option<Range<usize>>, label: impl Into<String>) -> Self {
        if let Some(span) = span {
            self.related.push((span, label.into()));
        }
        self
    }
}

/// Every problem found in one manifest, with the source they point into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    origin: String,
    source: String,
    items: Vec<Diagnostic>,
}

/// A diagnostic located by line and column, for machine-readable output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Located {
    /// The file the problem is in.
    pub file: String,
    /// 1-based line of the start of the span (absent for the whole file).
    pub line: Option<usize>,
    /// 1-based column, in characters, of the start of the span.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// Text shown under the span.
    pub label: String,
    /// What would be right.
    pub help: Option<String>,
}

impl Diagnostics {
    /// Collects problems about `source`, read from `origin`; sorted by position.
    pub fn new(
        origin: impl Into<String>,
        source: impl Into<String>,
        mut items: Vec<Diagnostic>,
    ) -> Self {
        let source = source.into();
        for item in &mut items {
            item.span = item.span.take().map(|span| clamp(&source, span));
            for (span, _) in &mut item.related {
                *span = clamp(&source, span.clone());
            }
        }
        // Whole-file problems last; the rest in file order, ties in finding order.
        items.sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
        Self {
            origin: origin.into(),
            source,
            items,
        }
    }

    /// The file name shown in messages.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The problems, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// How many problems there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// 1-based line and character column of a byte offset in the source.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.source.len());
        while !self.source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.source[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// Each problem with its line and column.
    pub fn located(&self) -> Vec<Located> {
        self.items
            .iter()
            .map(|d| {
                let position = d.span.as_ref().map(|s| self.line_column(s.start));
                Located {
                    file: self.origin.clone(),
                    line: position.map(|p| p.0),
                    column: position.map(|p| p.1),
                    message: d.message.clone(),
                    label: d.label.clone(),
                    help: d.help.clone(),
                }
            })
            .collect()
    }

    /// All problems rustc-style, then a one-line summary; ANSI colours when `color`.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let whole_file = format!("in {}", self.origin);
        let source = printable(&self.source);
        let mut out = String::new();
        for d in &self.items {
            let mut message = Level::Error.title(&d.message);
            match &d.span {
                Some(span) => {
                    let mut snippet = Snippet::source(&source)
                        .origin(&self.origin)
                        .line_start(1)
                        .fold(true)
                        .annotation(Level::Error.span(span.clone()).label(&d.label));
                    // Secondary spans at warning level render as rustc's plain `---` labels.
                    for (related, label) in &d.related {
                        snippet =
                            snippet.annotation(Level::Warning.span(related.clone()).label(label));
                    }
                    message = message.snippet(snippet);
                }
                None => message = message.footer(Level::Note.title(&whole_file)),
            }
            if let Some(help) = &d.help {
                message = message.footer(Level::Help.title(help));
            }
            out.push_str(&renderer.render(message).to_string());
            out.push_str("\n\n");
        }
        let count = match self.items.len() {
            1 => "1 error".to_owned(),
            n => format!("{n} errors"),
        };
        let summary = format!("{} has {count}", self.origin);
        out.push_str(&renderer.render(Level::Error.title(&summary)).to_string());
        out.push('\n');
        out
    }
}

/// `source` with each control character but tab, CR and LF shown as `?`.
/// annotate-snippets measures a line of form feeds as whitespace of no
/// width and panics on it (fuzz/corpus/manifest/form-feeds-and-nuls); one
/// byte for one byte keeps every span where it was.
fn printable(source: &str) -> std::borrow::Cow<'_, str> {
    let control = |c: char| c.is_ascii_control() && !matches!(c, '\t' | '\r' | '\n');
    if source.contains(control) {
        source.replace(control, "?").into()
    } else {
        source.into()
    }
}

/// Keeps a span inside the source, on character boundaries, and off the
/// trailing newlines (a span at the very end would render as no line at all).
fn clamp(source: &str, span: Range<usize>) -> Range<usize> {
    let limit = source.trim_end().len();
    let mut start = span.start.min(limit);
    let mut end = span.end.clamp(start, source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    while !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters_not_bytes() {
        let d = Diagnostics::new(
            "bale.toml",
            "a = \"é\"\nb = 1\n",
            vec![Diagnostic::new(Some(13..14), "m", "l")],
        );
        assert_eq!(d.line_column(13), (2, 5));
        assert_eq!(d.line_column(7), (1, 7));
        assert_eq!(d.located()[0].line, Some(2));
    }

    #[test]
    fn a_span_past_the_end_is_moved_onto_the_last_line() {
        let d = Diagnostics::new(
            "bale.toml",
            "a = \n",
            vec![Diagnostic::new(Some(5..5), "unexpected end", "here")],
        );
        assert!(d.render(false).contains("1 | a ="), "{}", d.render(false));
    }
}
