//! Reading values out of a spanned TOML document, one field at a time,
//! recording a diagnostic for every problem instead of stopping at the first.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use crate::diagnostics::Diagnostic;
use crate::validate::suggest;

/// A byte range in the source, when the parser kept one.
pub(crate) type Span = Option<Range<usize>>;

/// A value and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// A table being read, with the dotted path that names it in messages.
pub(crate) struct Section<'a> {
    /// Dotted path, `""` for the document root.
    pub path: String,
    pub table: &'a dyn TableLike,
    /// Where to point when the table as a whole is at fault (its header key).
    pub span: Span,
}

impl<'a> Section<'a> {
    /// The document root.
    pub fn root(table: &'a dyn TableLike) -> Self {
        Self {
            path: String::new(),
            table,
            span: None,
        }
    }

    /// How the table is named in messages: `[build]`.
    pub fn title(&self) -> String {
        if self.path.is_empty() {
            "the top level".to_owned()
        } else {
            format!("[{}]", self.path)
        }
    }

    /// Where a key of this table is, in messages: `in [build]`, `at the top level`.
    pub fn location(&self) -> String {
        if self.path.is_empty() {
            "at the top level".to_owned()
        } else {
            format!("in [{}]", self.path)
        }
    }

    /// The path of a child table.
    pub fn child(&self, key: &str) -> String {
        let key = toml_edit::Key::new(key).display_repr().into_owned();
        if self.path.is_empty() {
            key
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Where `key` is written.
    pub fn key_span(&self, key: &str) -> Span {
        self.table.key(key).and_then(|k| k.span())
    }

    /// Where the value of `key` is written (falling back to its key).
    pub fn value_span(&self, key: &str) -> Span {
        self.table
            .get(key)
            .and_then(Item::span)
            .or_else(|| self.key_span(key))
    }

    /// The item under `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'a Item> {
        self.table.get(key).filter(|item| !item.is_none())
    }
}

/// How a TOML value is named in a message: "an integer", "a table".
pub(crate) fn a_type(item: &Item) -> String {
    let name = item.type_name();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// The diagnostics collected while reading a document.
#[derive(Default)]
pub(crate) struct Walk {
    pub diags: Vec<Diagnostic>,
}

impl Walk {
    /// Records a problem.
    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// Reports every key of `section` that is not in `known` (`noun` is "field", "hook", ...).
    pub fn known_fields(&mut self, section: &Section<'_>, known: &[&str], noun: &str) {
        for (key, _) in section.table.iter() {
            if known.contains(&key) {
                continue;
            }
            let is_table = section.table.get(key).is_some_and(Item::is_table_like);
            let (message, list) = if section.path.is_empty() {
                let sections: Vec<String> = known.iter().map(|k| format!("[{k}]")).collect();
                let list = sections.join(", ");
                if is_table {
                    (
                        format!("unknown section `[{key}]`"),
                        format!("the top level holds only the sections {list}"),
                    )
                } else {
                    (
                        format!("`{key}` at the top level is not a section"),
                        format!(
                            "move it under the section it belongs to; the top level holds only the sections {list}"
                        ),
                    )
                }
            } else {
                (
                    format!("unknown {noun} `{key}` in {}", section.title()),
                    format!("known {noun}s in {}: {}", section.title(), known.join(", ")),
                )
            };
            let help = match suggest(key, known.iter().copied()) {
                Some(close) if section.path.is_empty() => {
                    format!("did you mean `[{close}]`? {list}")
                }
                Some(close) => format!("did you mean `{close}`? {list}"),
                None => list,
            };
            let label = if section.path.is_empty() && !is_table {
                "outside any section".to_owned()
            } else {
                format!("unknown {noun}")
            };
            self.report(Diagnostic::new(section.key_span(key), message, label).help(help));
        }
    }

    /// Reports a value of the wrong type.
    pub fn wrong_type(
        &mut self,
        section: &Section<'_>,
        key: &str,
        item: &Item,
        expected: &str,
        example: &str,
    ) {
        self.report(
            Diagnostic::new(
                item.span().or_else(|| section.key_span(key)),
                format!(
                    "`{key}` {} must be {expected}, not {}",
                    section.location(),
                    a_type(item)
                ),
                format!("expected {expected}"),
            )
            .help(format!("write it like `{key} = {example}`")),
        );
    }

    /// Reports that a required field is absent.
    pub fn missing(&mut self, section: &Section<'_>, key: &str, help: impl Into<String>) {
        self.report(
            Diagnostic::new(
                section.span.clone(),
                format!("missing field `{key}` in {}", section.title()),
                format!("{} has no `{key}`", section.title()),
            )
            .help(help),
        );
    }

    /// A table-valued field (a `[header]` table or an inline table).
    pub fn table<'a>(&mut self, section: &Section<'a>, key: &str) -> Option<Section<'a>> {
        let item = section.get(key)?;
        match item.as_table_like() {
            Some(table) => {
                let span = match item {
                    Item::Table(_) => section.key_span(key),
                    _ => item.span(),
                };
                Some(Section {
                    path: section.child(key),
                    table,
                    span,
                })
            }
            None => {
                self.wrong_type(section, key, item, "a table", "{ ... }");
                None
            }
        }
    }

    /// A string field.
    pub fn string(
        &mut self,
        section: &Section<'_>,
        key: &str,
        example: &str,
    ) -> Option<Spanned<String>> {
        let item = section.get(key)?;
        match item.as_str() {
            Some(text) => Some(Spanned {
                value: text.to_owned(),
                span: item.span(),
            }),
            None => {
                self.wrong_type(section, key, item, "a string", example);
                None
            }
        }
    }

    /// A boolean field.
    pub fn boolean(&mut self, section: &Section<'_>, key: &str) -> Option<Spanned<bool>> {
        let item = section.get(key)?;
        match item.as_bool() {
            Some(flag) => Some(Spanned {
                value: flag,
                span: item.span(),
            }),
            None => {
                self.wrong_type(section, key, item, "a boolean", "true");
                None
            }
        }
    }

    /// An integer field.
    pub fn integer(
        &mut self,
        section: &Section<'_>,
        key: &str,
        example: &str,
    ) -> Option<Spanned<i64>> {
        let item = section.get(key)?;
        match item.as_integer() {
            Some(number) => Some(Spanned {
                value: number,
                span: item.span(),
            }),
            None => {
                self.wrong_type(section, key, item, "an integer", example);
                None
            }
        }
    }

    /// A list of strings; elements of another type are reported and skipped.
    pub fn strings(
        &mut self,
        section: &Section<'_>,
        key: &str,
        example: &str,
    ) -> Option<Vec<Spanned<String>>> {
        let item = section.get(key)?;
        let Some(array) = item.as_array() else {
            self.wrong_type(section, key, item, "a list of strings", example);
            return None;
        };
        let mut out = Vec::new();
        for (index, value) in array.iter().enumerate() {
            match value.as_str() {
                Some(text) => out.push(Spanned {
                    value: text.to_owned(),
                    span: value.span(),
                }),
                None => self.report(
                    Diagnostic::new(
                        value.span(),
                        format!(
                            "entry {} of `{key}` {} must be a string, not {}",
                            index + 1,
                            section.location(),
                            a_type(&Item::Value(value.clone()))
                        ),
                        "expected a string",
                    )
                    .help(format!("write it like `{key} = {example}`")),
                ),
            }
        }
        Some(out)
    }

    /// A table whose values are all strings (`env`, `[run.services]`): (key, value) pairs in file order.
    pub fn string_table(
        &mut self,
        section: &Section<'_>,
        key: &str,
        example: &str,
    ) -> Option<Vec<(Spanned<String>, Spanned<String>)>> {
        let table = self.table(section, key)?;
        let mut out = Vec::new();
        for (name, item) in table.table.iter() {
            let name_span = table.key_span(name);
            match item.as_str() {
                Some(text) => out.push((
                    Spanned {
                        value: name.to_owned(),
                        span: name_span,
                    },
                    Spanned {
                        value: text.to_owned(),
                        span: item.span(),
                    },
                )),
                None => self.wrong_type(&table, name, item, "a string", example),
            }
        }
        Some(out)
    }

    /// The elements of a list of tables, inline (`[{...}]`) or `[[header]]` form.
    pub fn tables<'a>(
        &mut self,
        section: &Section<'a>,
        key: &str,
        example: &str,
    ) -> Option<Vec<Section<'a>>> {
        let item = section.get(key)?;
        let path = |i: usize| format!("{}[{i}]", section.child(key));
        match item {
            Item::ArrayOfTables(array) => Some(
                array
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Section {
                        path: path(i),
                        table: t as &dyn TableLike,
                        span: t.span(),
                    })
                    .collect(),
            ),
            Item::Value(Value::Array(array)) => {
                let mut out = Vec::new();
                for (i, value) in array.iter().enumerate() {
                    match value.as_inline_table() {
                        Some(t) => out.push(Section {
                            path: path(i),
                            table: t as &dyn TableLike,
                            span: value.span(),
                        }),
                        None => self.report(
                            Diagnostic::new(
                                value.span(),
                                format!(
                                    "entry {} of `{key}` {} must be a table, not {}",
                                    i + 1,
                                    section.location(),
                                    a_type(&Item::Value(value.clone()))
                                ),
                                "expected a table",
                            )
                            .help(format!("write it like `{key} = {example}`")),
                        ),
                    }
                }
                Some(out)
            }
            other => {
                self.wrong_type(section, key, other, "a list of tables", example);
                None
            }
        }
    }
}
