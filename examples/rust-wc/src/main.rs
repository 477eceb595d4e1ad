//! rwc: prints line, word, character and byte counts of files, like wc.

mod count;

use count::{count, Counts};
use std::fs::File;
use std::io::{self, Write};
use std::process::ExitCode;

const USAGE: &str = "\
usage: rwc [-lwmc] [FILE]...
Prints newline, word and byte counts of each FILE, and a total line when
there is more than one. With no FILE, or when FILE is -, reads standard input.
  -l  lines (newline characters)
  -w  words (runs of non-whitespace, C locale)
  -m  characters (UTF-8)
  -c  bytes
With no option: -l -w -c, in that order (the order is always l w m c).
  --help      this text
  --version   the version";

/// Which counts to print.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Columns {
    lines: bool,
    words: bool,
    chars: bool,
    bytes: bool,
}

impl Columns {
    fn values(&self, c: &Counts) -> Vec<u64> {
        let mut v = Vec::with_capacity(4);
        if self.lines {
            v.push(c.lines);
        }
        if self.words {
            v.push(c.words);
        }
        if self.chars {
            v.push(c.chars);
        }
        if self.bytes {
            v.push(c.bytes);
        }
        v
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Help,
    Version,
    Count { columns: Columns, files: Vec<String> },
}

fn parse_args(args: &[String]) -> Result<Request, String> {
    let mut columns = Columns::default();
    let mut files = Vec::new();
    let mut options_done = false;
    for arg in args {
        if options_done || arg == "-" || !arg.starts_with('-') {
            files.push(arg.clone());
            continue;
        }
        match arg.as_str() {
            "--" => options_done = true,
            "--help" => return Ok(Request::Help),
            "--version" => return Ok(Request::Version),
            "--lines" => columns.lines = true,
            "--words" => columns.words = true,
            "--chars" => columns.chars = true,
            "--bytes" => columns.bytes = true,
            long if long.starts_with("--") => {
                return Err(format!("unknown option {long}"));
            }
            short => {
                for flag in short.chars().skip(1) {
                    match flag {
                        'l' => columns.lines = true,
                        'w' => columns.words = true,
                        'm' => columns.chars = true,
                        'c' => columns.bytes = true,
                        other => return Err(format!("unknown option -{other}")),
                    }
                }
            }
        }
    }
    if columns == Columns::default() {
        columns = Columns { lines: true, words: true, chars: false, bytes: true };
    }
    Ok(Request::Count { columns, files })
}

/// One output row: the counts and the name shown after them.
struct Row {
    values: Vec<u64>,
    name: Option<String>,
}

fn print_rows(out: &mut impl Write, rows: &[Row]) -> io::Result<()> {
    // One width for every column, from the widest number, so columns line up.
    let width = rows
        .iter()
        .flat_map(|r| r.values.iter())
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(1);
    for row in rows {
        let numbers: Vec<String> = row.values.iter().map(|v| format!("{v:>width$}")).collect();
        match &row.name {
            Some(name) => writeln!(out, "{} {name}", numbers.join(" "))?,
            None => writeln!(out, "{}", numbers.join(" "))?,
        }
    }
    Ok(())
}

fn run(columns: Columns, files: &[String]) -> ExitCode {
    let mut rows = Vec::new();
    let mut total = Counts::default();
    let mut failed = false;
    let inputs: Vec<Option<&str>> = if files.is_empty() {
        vec![None]
    } else {
        files.iter().map(|f| Some(f.as_str())).collect()
    };
    for input in &inputs {
        let counted = match input {
            None | Some("-") => count(io::stdin().lock()),
            Some(path) => File::open(path).and_then(count),
        };
        match counted {
            Ok(c) => {
                total.add(c);
                rows.push(Row { values: columns.values(&c), name: input.map(str::to_owned) });
            }
            Err(e) => {
                eprintln!("rwc: {}: {e}", input.unwrap_or("standard input"));
                failed = true;
            }
        }
    }
    if inputs.len() > 1 {
        rows.push(Row { values: columns.values(&total), name: Some("total".to_owned()) });
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if let Err(e) = print_rows(&mut out, &rows).and_then(|_| out.flush()) {
        eprintln!("rwc: cannot write the counts: {e}");
        return ExitCode::FAILURE;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_args(&args) {
        Ok(Request::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Request::Version) => {
            println!("rwc {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Request::Count { columns, files }) => run(columns, &files),
        Err(message) => {
            eprintln!("rwc: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn no_option_means_lines_words_bytes() {
        let r = parse_args(&args(&["f"])).unwrap();
        let want = Columns { lines: true, words: true, chars: false, bytes: true };
        assert_eq!(r, Request::Count { columns: want, files: args(&["f"]) });
    }

    #[test]
    fn short_flags_combine() {
        let r = parse_args(&args(&["-lm", "-", "g"])).unwrap();
        let want = Columns { lines: true, words: false, chars: true, bytes: false };
        assert_eq!(r, Request::Count { columns: want, files: args(&["-", "g"]) });
    }

    #[test]
    fn after_double_dash_a_dash_name_is_a_file() {
        let r = parse_args(&args(&["--", "-l"])).unwrap();
        assert!(matches!(r, Request::Count { files, .. } if files == args(&["-l"])));
    }

    #[test]
    fn unknown_option_is_refused() {
        assert_eq!(parse_args(&args(&["-x"])).unwrap_err(), "unknown option -x");
        assert_eq!(parse_args(&args(&["--nope"])).unwrap_err(), "unknown option --nope");
    }

    #[test]
    fn columns_share_the_widest_width() {
        let rows = vec![
            Row { values: vec![1, 22], name: Some("a".into()) },
            Row { values: vec![333, 4], name: None },
        ];
        let mut out = Vec::new();
        print_rows(&mut out, &rows).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "  1  22 a\n333   4\n");
    }
}
