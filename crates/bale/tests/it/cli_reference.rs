//! The manual matches the binary: docs/cli.md is exactly what
//! `bale cli-reference` prints, and every `bale …` command line in docs/ and
//! the README names a command and flags that exist.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What `bale cli-reference` prints now.
fn reference() -> String {
    let out = Command::cargo_bin("bale")
        .expect("the bale binary is built for tests")
        .arg("cli-reference")
        .env("NO_COLOR", "1")
        .output()
        .expect("bale cli-reference runs");
    assert!(
        out.status.success(),
        "bale cli-reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the reference is UTF-8")
}

#[test]
fn docs_cli_md_is_what_bale_cli_reference_prints() {
    let expected = reference();
    let path = repo_root().join("docs/cli.md");
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        let first = actual
            .lines()
            .zip(expected.lines())
            .position(|(a, e)| a != e)
            .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
        panic!(
            "docs/cli.md is stale: the commands' help changed. Run `scripts/cli-reference` \
             and commit docs/cli.md.\nFirst difference at line {}:\n  docs/cli.md: {:?}\n  bale now:    {:?}",
            first + 1,
            actual.lines().nth(first).unwrap_or("<end of file>"),
            expected.lines().nth(first).unwrap_or("<end of file>"),
        );
    }
}

/// Every command of the reference (`bale key generate`) with the text of its section.
fn sections(reference: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in reference.lines() {
        let heading = line
            .strip_prefix("### `")
            .or_else(|| line.strip_prefix("## `"))
            .and_then(|rest| rest.strip_suffix('`'));
        if let Some(name) = heading {
            current = Some(name.to_owned());
            out.insert(name.to_owned(), String::new());
        } else if let Some(name) = &current {
            let text = out.entry(name.clone()).or_default();
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

/// Tokens that end a command on a shell line.
fn ends_command(token: &str) -> bool {
    matches!(token, "|" | "||" | "&&" | ";" | "&" | "\\" | ")")
        || token.starts_with('#')
        || token.starts_with('<')
        || token.starts_with('>')
        || token.starts_with("2>")
}

/// A word that stands for something the reader fills in.
fn placeholder(token: &str) -> bool {
    token.starts_with('<')
        || token.starts_with('[')
        || token.contains('…')
        || token
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '_' || c == '-')
}

/// Checks the command line that follows a `bale` word; returns what is wrong with it.
fn check_line(words: &[&str], sections: &BTreeMap<String, String>) -> Option<String> {
    let globals = &sections_global();
    let mut words = words
        .iter()
        .map(|w| w.trim_end_matches(['`', ')', '"']))
        .take_while(|w| !ends_command(w));
    let mut name = "bale".to_owned();
    let mut flags: Vec<&str> = Vec::new();
    // The command, and its subcommand when it has some.
    for word in words.by_ref() {
        if word.starts_with('-') {
            flags.push(word);
            continue;
        }
        if placeholder(word) {
            return None;
        }
        let longer = format!("{name} {word}");
        if !sections.contains_key(&longer) {
            if name == "bale" {
                return Some(format!("`{longer}` is not a command"));
            }
            break;
        }
        name = longer;
        let has_subcommands = sections.keys().any(|k| k.starts_with(&format!("{name} ")));
        if !has_subcommands {
            break;
        }
    }
    if name == "bale" {
        return None;
    }
    if sections.keys().any(|k| k.starts_with(&format!("{name} "))) {
        return Some(format!("`{name}` needs one of its subcommands"));
    }
    flags.extend(words.filter(|w| w.starts_with('-') && *w != "-"));
    let section = &sections[&name];
    for flag in flags {
        let flag = flag.split('=').next().unwrap_or(flag);
        let known = if flag.starts_with("--") {
            section.contains(&format!("`{flag}`"))
                || section.contains(&format!("`{flag} <"))
                || section.contains(&format!(", {flag}`"))
                || section.contains(&format!(", {flag} <"))
        } else {
            section.contains(&format!("`{flag}, "))
        };
        if !known && !globals.contains(&flag) {
            return Some(format!("`{name}` has no option `{flag}`"));
        }
    }
    None
}

fn sections_global() -> Vec<&'static str> {
    vec!["--json", "-q", "--quiet", "-h", "--help", "-V", "--version"]
}

/// Whether the word at `i` of a shell line stands where a command starts:
/// first, after a separator or `sudo`, after `ssh HOST`, or opening `$(`.
fn at_command_position(words: &[&str], i: usize) -> bool {
    let word = words[i];
    if word.contains("$(") || word.starts_with('(') {
        return true;
    }
    match i {
        0 => true,
        _ => {
            let before = words[i - 1];
            matches!(before, "&&" | "||" | ";" | "|" | "sudo" | "exec" | "$")
                || (i >= 2 && words[i - 2] == "ssh" && !before.starts_with('-'))
        }
    }
}

/// The words after each `bale` that starts a command in `span`.
fn commands_in(span: &str, whole_line: bool) -> Vec<Vec<String>> {
    let words: Vec<&str> = span.split_whitespace().collect();
    let mut out = Vec::new();
    for (i, word) in words.iter().enumerate() {
        if word.starts_with('#') {
            break;
        }
        // `X=$(bale …)`: the command substitution's first word.
        let bare = word.rsplit("$(").next().unwrap_or(word);
        let bare = bare.trim_start_matches(['"', '(']);
        let placed = if whole_line {
            at_command_position(&words, i)
        } else {
            i == 0 || at_command_position(&words, i)
        };
        if bare == "bale" && placed {
            out.push(words[i + 1..].iter().map(|w| (*w).to_owned()).collect());
        }
    }
    out
}

/// Every `bale …` command in the code blocks and inline code of `text`,
/// with its line number, as the words after `bale`.
fn command_lines(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut in_block = false;
    // Whether an inline code span opened on an earlier line of the paragraph is still open.
    let mut in_span = false;
    for (number, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            in_span = false;
            continue;
        }
        if in_block {
            for words in commands_in(line, true) {
                out.push((number + 1, words));
            }
            continue;
        }
        if line.trim().is_empty() {
            in_span = false;
            continue;
        }
        let parts: Vec<&str> = line.split('`').collect();
        for (i, part) in parts.iter().enumerate() {
            let code = in_span ^ (i % 2 == 1);
            // Only a span that opens here starts a command; a continued one does not.
            if code && i > 0 {
                for words in commands_in(part, false) {
                    out.push((number + 1, words));
                }
            }
        }
        in_span ^= (parts.len() - 1) % 2 == 1;
    }
    out
}

#[test]
fn every_bale_command_in_the_manual_exists() {
    let sections = sections(&reference());
    assert!(
        sections.contains_key("bale deploy"),
        "the reference lists the commands"
    );
    let root = repo_root();
    let mut files = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).expect("docs/ exists") {
        let path = entry.expect("docs/ is readable").path();
        if path.extension().is_some_and(|e| e == "md") && !path.ends_with("cli.md") {
            files.push(path);
        }
    }
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a manual page is readable");
        for (line, words) in command_lines(&text) {
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            checked += 1;
            if let Some(problem) = check_line(&words, &sections) {
                let shown = file.strip_prefix(&root).unwrap_or(file);
                problems.push(format!("{}:{line}: {problem}", shown.display()));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} command lines found in the manual"
    );
    assert!(
        problems.is_empty(),
        "the manual names commands or options bale does not have (see `bale <command> --help`):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checker_catches_a_wrong_command_and_a_wrong_flag() {
    let sections = sections(&reference());
    let check = |line: &str| check_line(&line.split_whitespace().collect::<Vec<_>>(), &sections);
    assert_eq!(
        check("deploy web org.example:a:1 --hosts a,b --rolling"),
        None
    );
    assert_eq!(check("stack create debian-bookworm"), None);
    assert!(check("deploy web x --rollin").is_some());
    assert!(check("depoly web x").is_some());
    assert!(check("stack").is_some());
    assert!(check("stack frobnicate x").is_some());
}

#[test]
fn commands_are_found_where_a_command_starts() {
    let found = |text: &str| -> Vec<String> {
        command_lines(text)
            .into_iter()
            .map(|(_, words)| words.join(" "))
            .collect()
    };
    let block = "```\ninstall -m 0755 bale /usr/local/bin/bale\nssh web1 bale apps\nX=$(bale token create --scope build) && bale publish f.bale\n```\n";
    assert_eq!(
        found(block),
        [
            "apps",
            "token create --scope build) && bale publish f.bale",
            "publish f.bale"
        ]
    );
    // An inline span that runs onto the next line is one span.
    let prose = "run `bale stack\ncreate` first; the `host\nbale bale` line is not a command\n";
    assert_eq!(found(prose), ["stack"]);
}
