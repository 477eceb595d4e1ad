//! Walking a parsed `bale.toml` against the schema: every section, every
//! field, one diagnostic per problem, and the typed manifest built as far as
//! the input allows.

use std::collections::BTreeMap;

use bale_coordinate::{check_group, check_name, check_version, CoordinateError};
use toml_edit::ImDocument;

use crate::diagnostics::Diagnostic;
use crate::schema::{
    Build, Dependencies, Hooks, Manifest, Package, Run, RunLimits, Source, Stack, Test,
    DEFAULT_STACK, HOOK_NAMES,
};
use crate::units::{ByteSize, HumanDuration};
use crate::validate::{
    check, check_absolute, check_env_name, check_git_ref, check_git_url, check_ident,
    check_package_name, check_relative, no_duplicates, one_of_help,
};
use crate::walk::{Section, Spanned, Walk};
use crate::{kits, Catalog, ParseOptions};

const SECTIONS: &[&str] = &[
    "package",
    "stack",
    "dependencies",
    "source",
    "build",
    "test",
    "hooks",
    "run",
    "kits",
];
const PACKAGE_FIELDS: &[&str] = &[
    "group",
    "name",
    "version",
    "description",
    "license",
    "maintainer",
    "homepage",
];
const STACK_FIELDS: &[&str] = &["name", "kind"];
const DEPENDENCY_FIELDS: &[&str] = &["build", "runtime"];
const SOURCE_FIELDS: &[&str] = &["git", "ref"];
const BUILD_FIELDS: &[&str] = &[
    "network",
    "env",
    "before",
    "main",
    "after",
    "finalize",
    "destinations",
    "cache",
    "timeout",
    "memory",
];
const TEST_FIELDS: &[&str] = &["commands"];
const RUN_FIELDS: &[&str] = &["workdir", "limits", "services", "commands"];
const LIMIT_FIELDS: &[&str] = &["memory", "cpu", "tasks"];

/// Reads the whole document; the manifest is complete only when `walk` holds no diagnostics.
pub(crate) fn manifest(
    doc: &ImDocument<&str>,
    catalog: &Catalog,
    options: &ParseOptions,
    walk: &mut Walk,
) -> Manifest {
    let root = Section::root(doc.as_table());
    walk.known_fields(&root, SECTIONS, "section");
    let run = run(walk, &root);
    Manifest {
        package: package(walk, &root, options),
        stack: stack(walk, &root, catalog),
        dependencies: dependencies(walk, &root),
        source: source(walk, &root),
        build: build(walk, &root),
        test: test(walk, &root),
        hooks: hooks(walk, &root),
        kits: kits::kits(walk, &root, &run.services),
        run,
    }
}

/// Reports a bad coordinate part with the rule it breaks.
fn coordinate_part(
    walk: &mut Walk,
    value: &Spanned<String>,
    what: &str,
    rule: fn(&str) -> Result<(), CoordinateError>,
) {
    if let Err(error) = rule(&value.value) {
        walk.report(
            Diagnostic::new(
                value.span.clone(),
                format!("`{}` is not a valid {what}", value.value),
                format!("invalid {what}"),
            )
            .help(rule_of(&error)),
        );
    }
}

/// The rule part of a coordinate error (its message repeats the value first).
fn rule_of(error: &CoordinateError) -> String {
    let text = error.to_string();
    text.split_once(": ")
        .map_or(text.clone(), |(_, rule)| rule.to_owned())
}

/// A string field that must be present.
fn required(
    walk: &mut Walk,
    section: &Section<'_>,
    key: &str,
    example: &str,
    help: &str,
) -> Option<Spanned<String>> {
    if section.get(key).is_none() {
        walk.missing(section, key, help);
        return None;
    }
    walk.string(section, key, example)
}

fn text(value: Option<Spanned<String>>) -> Option<String> {
    value.map(|v| v.value)
}

fn texts(values: Option<Vec<Spanned<String>>>) -> Vec<String> {
    values
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.value)
        .collect()
}

fn package(walk: &mut Walk, root: &Section<'_>, options: &ParseOptions) -> Package {
    let mut package = Package {
        group: String::new(),
        name: String::new(),
        version: options.version_override.clone().unwrap_or_default(),
        description: None,
        license: None,
        maintainer: None,
        homepage: None,
    };
    if let Some(version) = &options.version_override {
        if let Err(error) = check_version(version) {
            walk.report(
                Diagnostic::new(
                    None,
                    format!("the version `{version}` given by the git branch is not a version"),
                    "",
                )
                .help(rule_of(&error)),
            );
        }
    }
    let Some(section) = walk.table(root, "package") else {
        if root.get("package").is_none() {
            walk.report(
                Diagnostic::new(None, "missing section [package]", "")
                    .help("start the file with [package] holding group, name and version, e.g. group = \"org.example\", name = \"hello\", version = \"1.0.0\""),
            );
        }
        return package;
    };
    walk.known_fields(&section, PACKAGE_FIELDS, "field");
    if let Some(group) = required(
        walk,
        &section,
        "group",
        "\"org.example\"",
        "add `group = \"org.example\"` (dotted, like a Maven groupId)",
    ) {
        coordinate_part(walk, &group, "group", check_group);
        package.group = group.value;
    }
    if let Some(name) = required(
        walk,
        &section,
        "name",
        "\"hello\"",
        "add `name = \"hello\"` ([a-z0-9][a-z0-9._-]*)",
    ) {
        coordinate_part(walk, &name, "name", check_name);
        package.name = name.value;
    }
    let version = if options.version_override.is_some() {
        walk.string(&section, "version", "\"1.0.0\"")
    } else {
        required(
            walk,
            &section,
            "version",
            "\"1.0.0\"",
            "add `version = \"1.0.0\"`, or build from a git branch named `<name>-<version>`",
        )
    };
    if let Some(version) = version {
        coordinate_part(walk, &version, "version", check_version);
        if options.version_override.is_none() {
            package.version = version.value;
        }
    }
    package.description = text(walk.string(&section, "description", "\"what it does\""));
    package.license = text(walk.string(&section, "license", "\"Apache-2.0\""));
    package.maintainer =
        text(walk.string(&section, "maintainer", "\"Jane Doe <jane@example.org>\""));
    package.homepage = text(walk.string(&section, "homepage", "\"https://example.org\""));
    package
}

fn stack(walk: &mut Walk, root: &Section<'_>, catalog: &Catalog) -> Stack {
    let mut stack = Stack {
        name: DEFAULT_STACK.to_owned(),
        kind: None,
    };
    let section = walk.table(root, "stack");
    if let Some(section) = &section {
        walk.known_fields(section, STACK_FIELDS, "field");
    }
    let name = section
        .as_ref()
        .and_then(|s| walk.string(s, "name", "\"debian-bookworm\""));
    let name_given = name.is_some() || section.as_ref().is_some_and(|s| s.get("name").is_some());
    match name {
        Some(name) if !catalog.stacks.contains(&name.value) => {
            walk.report(
                Diagnostic::new(
                    name.span.clone(),
                    format!("unknown stack `{}`", name.value),
                    "no such stack on this machine",
                )
                .help(format!(
                    "{} (see `bale stack list`)",
                    one_of_help(&name.value, &catalog.stacks, "stacks")
                )),
            );
            stack.name = name.value;
        }
        Some(name) => stack.name = name.value,
        None if !name_given && !catalog.stacks.iter().any(|s| s == DEFAULT_STACK) => walk.report(
            Diagnostic::new(
                section.as_ref().and_then(|s| s.span.clone()),
                format!(
                    "no stack is named and the default `{DEFAULT_STACK}` is not on this machine"
                ),
                "no `name` here",
            )
            .help(format!(
                "add [stack] name = \"...\"; known stacks: {}",
                catalog.stacks.join(", ")
            )),
        ),
        None => {}
    }
    if let Some(kind) = section
        .as_ref()
        .and_then(|s| walk.string(s, "kind", "\"python\""))
    {
        let known = catalog.kinds.names();
        if !known.contains(&kind.value) {
            walk.report(
                Diagnostic::new(
                    kind.span.clone(),
                    format!("unknown kind `{}`", kind.value),
                    "no such kind",
                )
                .help(one_of_help(&kind.value, &known, "kinds")),
            );
        }
        stack.kind = Some(kind.value);
    }
    stack
}

/// A list of Debian packages: one name per entry, each once.
fn package_list(walk: &mut Walk, section: &Section<'_>, key: &str) -> Vec<String> {
    let Some(list) = walk.strings(section, key, "[\"libpq5\"]") else {
        return Vec::new();
    };
    for entry in &list {
        check(walk, entry, "Debian package name", check_package_name);
    }
    no_duplicates(walk, &list, &format!("`{key}` of {}", section.title()));
    texts(Some(list))
}

fn dependencies(walk: &mut Walk, root: &Section<'_>) -> Dependencies {
    let Some(section) = walk.table(root, "dependencies") else {
        return Dependencies::default();
    };
    walk.known_fields(&section, DEPENDENCY_FIELDS, "field");
    Dependencies {
        build: package_list(walk, &section, "build"),
        runtime: package_list(walk, &section, "runtime"),
    }
}

fn source(walk: &mut Walk, root: &Section<'_>) -> Option<Source> {
    let section = walk.table(root, "source")?;
    walk.known_fields(&section, SOURCE_FIELDS, "field");
    let git = required(walk, &section, "git", "\"https://git.example.org/app.git\"", "add `git = \"<URL or path of a git repository>\"`, or remove [source] to build the directory holding bale.toml");
    if let Some(git) = &git {
        if git.value.trim().is_empty() {
            walk.report(
                Diagnostic::new(git.span.clone(), "`git` in [source] is empty", "empty")
                    .help("write the URL or path of a git repository"),
            );
        } else {
            check(walk, git, "git source", check_git_url);
        }
    }
    let reference = walk.string(&section, "ref", "\"main\"");
    if let Some(reference) = &reference {
        check(walk, reference, "git ref", check_git_ref);
    }
    let reference = text(reference);
    Some(Source {
        git: text(git).unwrap_or_default(),
        reference,
    })
}

/// A list of shell commands.
fn commands(walk: &mut Walk, section: &Section<'_>, key: &str) -> Option<Vec<String>> {
    walk.strings(section, key, "[\"make\"]")
        .map(|list| texts(Some(list)))
}

/// A list of paths, each checked by `rule`.
fn paths(
    walk: &mut Walk,
    section: &Section<'_>,
    key: &str,
    example: &str,
    rule: fn(&str) -> Result<(), String>,
) -> Vec<String> {
    let list = walk.strings(section, key, example).unwrap_or_default();
    for entry in &list {
        check(walk, entry, &format!("path in `{key}`"), rule);
    }
    no_duplicates(walk, &list, &format!("`{key}` of {}", section.title()));
    texts(Some(list))
}

fn build(walk: &mut Walk, root: &Section<'_>) -> Build {
    let Some(section) = walk.table(root, "build") else {
        return Build::default();
    };
    walk.known_fields(&section, BUILD_FIELDS, "field");
    let mut build = Build {
        network: walk.boolean(&section, "network").is_some_and(|v| v.value),
        before: commands(walk, &section, "before"),
        main: commands(walk, &section, "main"),
        after: commands(walk, &section, "after"),
        finalize: commands(walk, &section, "finalize"),
        destinations: paths(
            walk,
            &section,
            "destinations",
            "[\"app\", \"requirements.txt\"]",
            check_relative,
        ),
        cache: paths(
            walk,
            &section,
            "cache",
            "[\"/root/.cache/pip\"]",
            check_absolute,
        ),
        ..Build::default()
    };
    for (name, value) in walk
        .string_table(&section, "env", "\"1\"")
        .unwrap_or_default()
    {
        check(walk, &name, "environment variable name", check_env_name);
        build.env.insert(name.value, value.value);
    }
    if let Some(timeout) = walk.string(&section, "timeout", "\"30m\"") {
        match HumanDuration::parse(&timeout.value) {
            Ok(duration) => build.timeout = Some(duration),
            Err(error) => walk.report(unit_problem(&timeout, "duration", error)),
        }
    }
    if let Some(memory) = walk.string(&section, "memory", "\"4G\"") {
        match ByteSize::parse(&memory.value) {
            Ok(size) => build.memory = Some(size),
            Err(error) => walk.report(unit_problem(&memory, "size", error)),
        }
    }
    build
}

/// The diagnostic for a duration or size that does not read.
pub(crate) fn unit_problem(
    value: &Spanned<String>,
    what: &str,
    error: crate::ManifestError,
) -> Diagnostic {
    let (reason, help) = match error {
        crate::ManifestError::Duration { reason, .. } => {
            (reason, "write a number and a unit, like \"90s\", \"30m\", \"1h\" or \"1h30m\"")
        }
        crate::ManifestError::Size { reason, .. } => {
            (reason, "write a number of bytes with an optional unit, like \"1024\", \"100K\", \"512M\" or \"4G\"")
        }
        other => (other.to_string(), ""),
    };
    Diagnostic::new(
        value.span.clone(),
        format!("`{}` is not a {what}", value.value),
        reason,
    )
    .help(help)
}

fn test(walk: &mut Walk, root: &Section<'_>) -> Test {
    let Some(section) = walk.table(root, "test") else {
        return Test::default();
    };
    walk.known_fields(&section, TEST_FIELDS, "field");
    Test {
        commands: commands(walk, &section, "commands").unwrap_or_default(),
    }
}

fn hooks(walk: &mut Walk, root: &Section<'_>) -> Hooks {
    let mut hooks = Hooks::default();
    let Some(section) = walk.table(root, "hooks") else {
        return hooks;
    };
    walk.known_fields(&section, HOOK_NAMES, "hook");
    for name in HOOK_NAMES {
        if let (Some(list), Some(slot)) = (commands(walk, &section, name), hooks.slot(name)) {
            *slot = list;
        }
    }
    hooks
}

/// A name → command table (`[run.services]`, `[run.commands]`).
fn named_commands(
    walk: &mut Walk,
    section: &Section<'_>,
    key: &str,
    what: &str,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, command) in walk
        .string_table(section, key, "\"./bin/server --port=$PORT\"")
        .unwrap_or_default()
    {
        check(walk, &name, &format!("{what} name"), check_ident);
        if command.value.trim().is_empty() {
            walk.report(
                Diagnostic::new(
                    command.span.clone(),
                    format!("{what} `{}` has an empty command", name.value),
                    "empty",
                )
                .help("write the shell command that starts it"),
            );
        }
        out.insert(name.value, command.value);
    }
    out
}

fn run(walk: &mut Walk, root: &Section<'_>) -> Run {
    let Some(section) = walk.table(root, "run") else {
        return Run::default();
    };
    walk.known_fields(&section, RUN_FIELDS, "field");
    let workdir = walk.string(&section, "workdir", "\"app\"");
    if let Some(workdir) = &workdir {
        check(walk, workdir, "workdir", check_relative);
    }
    Run {
        workdir: text(workdir),
        limits: run_limits(walk, &section),
        services: named_commands(walk, &section, "services", "service"),
        commands: named_commands(walk, &section, "commands", "command"),
    }
}

/// `[run] limits = { memory = "512M", cpu = "1.5", tasks = 256 }`.
fn run_limits(walk: &mut Walk, run: &Section<'_>) -> RunLimits {
    let mut limits = RunLimits::default();
    let Some(section) = walk.table(run, "limits") else {
        return limits;
    };
    walk.known_fields(&section, LIMIT_FIELDS, "limit");
    if let Some(memory) = walk.string(&section, "memory", "\"512M\"") {
        match ByteSize::parse(&memory.value) {
            Ok(size) if size.bytes() > 0 => limits.memory = Some(size),
            Ok(_) => walk.report(
                Diagnostic::new(memory.span.clone(), "a memory limit of 0", "zero")
                    .help("give the most memory a service may use, like \"512M\""),
            ),
            Err(error) => walk.report(unit_problem(&memory, "size", error)),
        }
    }
    if let Some(cpu) = walk.string(&section, "cpu", "\"1.5\"") {
        match RunLimits::parse_cpu(&cpu.value) {
            Ok(millis) => limits.cpu_millis = Some(millis),
            Err(reason) => walk.report(
                Diagnostic::new(
                    cpu.span.clone(),
                    format!("`{}` is not a CPU share", cpu.value),
                    reason,
                )
                .help("write a number of CPUs as a string, like \"0.5\" or \"2\""),
            ),
        }
    }
    if let Some(tasks) = walk.integer(&section, "tasks", "256") {
        match u64::try_from(tasks.value) {
            Ok(n) if n > 0 => limits.tasks = Some(n),
            _ => walk.report(
                Diagnostic::new(
                    tasks.span.clone(),
                    format!("`{}` tasks", tasks.value),
                    "not a positive number",
                )
                .help("give the most processes and threads a service may hold, like 256"),
            ),
        }
    }
    limits
}
