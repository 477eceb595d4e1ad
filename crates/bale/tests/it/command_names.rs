//! Every `` `bale <command> [<subcommand>]` `` that an error, a help text, a
//! comment or the manual mentions is a command the built binary has: a
//! message that tells the user to run `bale remove` when there is no such
//! command sends them nowhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The commands of the built binary, each with its subcommands, read from
/// `bale --help` and `bale <command> --help`.
fn command_tree() -> BTreeMap<String, BTreeSet<String>> {
    let top = names_in_help(&help(&[]));
    assert!(
        top.len() > 20 && top.contains("deploy") && top.contains("init"),
        "too few commands read from `bale --help`: {top:?}"
    );
    top.into_iter()
        .map(|name| {
            let nested = names_in_help(&help(&[&name]));
            (name, nested)
        })
        .collect()
}

fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_bale"))
        .args(args)
        .arg("--help")
        .env("NO_COLOR", "1")
        .output()
        .expect("running bale --help");
    assert!(output.status.success(), "bale {args:?} --help failed");
    String::from_utf8(output.stdout).expect("help is UTF-8")
}

/// The command names a help text lists: lines `  name  about` (options start
/// with `-`, arguments with `<` or `[`, wrapped text is indented further).
fn names_in_help(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|line| line.strip_prefix("  "))
        // A wrapped help text is indented further: not a name.
        .filter(|line| !line.starts_with(char::is_whitespace))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|word| is_command_word(word))
        .map(str::to_owned)
        .collect()
}

fn is_command_word(word: &str) -> bool {
    word.starts_with(|c: char| c.is_ascii_lowercase())
        && word.chars().all(|c| c.is_ascii_lowercase() || c == '-')
}

/// Each `` `bale …` `` mention in `text` that names a command (or a
/// subcommand of one that has them) the tree does not have.
fn unknown_mentions(text: &str, tree: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut unknown = Vec::new();
    for (at, _) in text.match_indices("`bale ") {
        let rest = &text[at + "`bale ".len()..];
        let Some(end) = rest.find('`') else { continue };
        let mut words = rest[..end].split_whitespace();
        let Some(first) = words.next().filter(|w| is_command_word(w)) else {
            continue;
        };
        match tree.get(first) {
            None => unknown.push(format!("bale {first}")),
            Some(nested) if !nested.is_empty() => {
                if let Some(second) = words.next().filter(|w| is_command_word(w)) {
                    if !nested.contains(second) {
                        unknown.push(format!("bale {first} {second}"));
                    }
                }
            }
            Some(_) => {}
        }
    }
    unknown
}

/// The sources and the manual: every `.rs` under `crates/*/src` and every
/// `.md` under `docs/`, plus the READMEs.
fn scanned_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md"), root.join("crates/README.md")];
    let crates = std::fs::read_dir(root.join("crates")).expect("reading crates/");
    for entry in crates.flatten() {
        collect(&entry.path().join("src"), "rs", &mut files);
    }
    collect(&root.join("docs"), "md", &mut files);
    files.retain(|f| f.is_file());
    files
}

fn collect(dir: &Path, extension: &str, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, extension, files);
        } else if path.extension().is_some_and(|e| e == extension) {
            files.push(path);
        }
    }
}

#[test]
fn every_mentioned_command_exists() {
    let tree = command_tree();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let files = scanned_files(&root);
    assert!(files.len() > 50, "too few files scanned: {}", files.len());
    let mut wrong = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("reading a source file");
        for mention in unknown_mentions(&text, &tree) {
            wrong.push(format!("{}: `{mention}`", file.display()));
        }
    }
    assert!(
        wrong.is_empty(),
        "these mention commands bale does not have:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn a_command_that_does_not_exist_is_caught() {
    let tree = command_tree();
    let text = "remove it first with `bale remove org.example:hello:1.0`; \
                then `bale stack frobnicate x`, not `bale stack create bookworm` \
                or `bale deploy APP PACKAGE` or `bale key trust FILE.pub`";
    assert_eq!(
        unknown_mentions(text, &tree),
        ["bale remove", "bale stack frobnicate"]
    );
}
