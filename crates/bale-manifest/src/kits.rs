//! Reading `[kits.NAME]` and checking kits against `[run.services]`:
//! every kit covers services that exist, no service is covered twice, at
//! most one kit is the main one.

use std::collections::BTreeMap;

use crate::diagnostics::Diagnostic;
use crate::parse::unit_problem;
use crate::schema::{Health, HealthCheck, Kit, Port, Provision, Switch, Variable};
use crate::units::HumanDuration;
use crate::validate::{check, check_env_name, check_ident, no_duplicates, one_of_help};
use crate::walk::{Section, Span, Spanned, Walk};

const KIT_FIELDS: &[&str] = &["main", "ports", "health", "variables", "services", "switch"];
const PORT_FIELDS: &[&str] = &["name", "port"];
const HEALTH_FIELDS: &[&str] = &["http", "command", "timeout"];
const VARIABLE_FIELDS: &[&str] = &["provision", "required", "default", "description"];
const PORTS_EXAMPLE: &str = "[{ name = \"http\", port = 8080 }]";

/// Who covers what so far: service → (kit, where the kit names it).
type Coverage = BTreeMap<String, (String, Span)>;

/// Reads every kit; `services` are the names in `[run.services]`.
pub(crate) fn kits(
    walk: &mut Walk,
    root: &Section<'_>,
    services: &BTreeMap<String, String>,
) -> BTreeMap<String, Kit> {
    let mut out = BTreeMap::new();
    let Some(section) = walk.table(root, "kits") else {
        return out;
    };
    let mut main_kit: Option<(String, Span)> = None;
    let mut coverage = Coverage::new();
    for (name, _) in section.table.iter() {
        let Some(kit_section) = walk.table(&section, name) else {
            continue;
        };
        let name = Spanned {
            value: name.to_owned(),
            span: section.key_span(name),
        };
        check(walk, &name, "kit name", check_ident);
        walk.known_fields(&kit_section, KIT_FIELDS, "field");
        let mut kit = Kit::default();
        if let Some(main) = walk.boolean(&kit_section, "main") {
            kit.main = main.value;
            if main.value {
                match &main_kit {
                    Some((first, first_span)) => walk.report(
                        Diagnostic::new(
                            main.span.clone(),
                            format!("kit `{}` is main, but so is kit `{first}`", name.value),
                            "a second main kit",
                        )
                        .related(first_span.clone(), "the first main kit")
                        .help("at most one kit has `main = true`; remove it from all but one"),
                    ),
                    None => main_kit = Some((name.value.clone(), main.span.clone())),
                }
            }
        }
        kit.ports = ports(walk, &kit_section);
        kit.health = health(walk, &kit_section);
        kit.variables = variables(walk, &kit_section);
        kit.services = covered_services(walk, &kit_section, &name, services, &mut coverage);
        kit.switch = switch(walk, &kit_section);
        out.insert(name.value, kit);
    }
    out
}

fn ports(walk: &mut Walk, kit: &Section<'_>) -> Vec<Port> {
    let mut out = Vec::new();
    let mut names = Vec::new();
    let mut numbers = Vec::new();
    for entry in walk.tables(kit, "ports", PORTS_EXAMPLE).unwrap_or_default() {
        walk.known_fields(&entry, PORT_FIELDS, "field");
        let name = if entry.get("name").is_none() {
            walk.missing(
                &entry,
                "name",
                "give each port a name, like `{ name = \"http\", port = 8080 }`",
            );
            None
        } else {
            walk.string(&entry, "name", "\"http\"")
        };
        if let Some(name) = &name {
            check(walk, name, "port name", check_ident);
            names.push(name.clone());
        }
        let number = if entry.get("port").is_none() {
            walk.missing(
                &entry,
                "port",
                "give the port number, like `{ name = \"http\", port = 8080 }`",
            );
            None
        } else {
            walk.integer(&entry, "port", "8080")
        };
        let number = number.and_then(|n| match u16::try_from(n.value) {
            Ok(port) if port > 0 => {
                numbers.push(Spanned {
                    value: port.to_string(),
                    span: n.span,
                });
                Some(port)
            }
            _ => {
                walk.report(
                    Diagnostic::new(
                        n.span,
                        format!("port {} is out of range", n.value),
                        "not a TCP port",
                    )
                    .help("a port is a number from 1 to 65535"),
                );
                None
            }
        });
        if let (Some(name), Some(port)) = (name, number) {
            out.push(Port {
                name: name.value,
                port,
            });
        }
    }
    no_duplicates(walk, &names, &format!("the port names of {}", kit.title()));
    no_duplicates(
        walk,
        &numbers,
        &format!("the port numbers of {}", kit.title()),
    );
    out
}

fn health(walk: &mut Walk, kit: &Section<'_>) -> Option<Health> {
    let section = walk.table(kit, "health")?;
    walk.known_fields(&section, HEALTH_FIELDS, "field");
    let http = walk.string(&section, "http", "\"/healthz\"");
    let command = walk.string(&section, "command", "\"./bin/check\"");
    let timeout = walk.string(&section, "timeout", "\"30s\"").and_then(|t| {
        match HumanDuration::parse(&t.value) {
            Ok(duration) => Some(duration),
            Err(error) => {
                walk.report(unit_problem(&t, "duration", error));
                None
            }
        }
    });
    if let Some(http) = &http {
        if !http.value.starts_with('/') {
            walk.report(
                Diagnostic::new(
                    http.span.clone(),
                    format!("health path `{}` does not start with `/`", http.value),
                    "not a path",
                )
                .help("write the path of the health URL, like `http = \"/healthz\"`"),
            );
        }
    }
    let both_or_neither = |message: &str| {
        Diagnostic::new(
            section.span.clone(),
            format!("{} has {message}", section.title()),
            "here",
        )
        .help("write exactly one of `http = \"/healthz\"` or `command = \"...\"`")
    };
    let present = |key: &str| section.get(key).is_some();
    let check = match (http, command) {
        (Some(http), None) => HealthCheck::Http(http.value),
        (None, Some(command)) => HealthCheck::Command(command.value),
        (Some(_), Some(_)) => {
            walk.report(both_or_neither("both `http` and `command`"));
            return None;
        }
        (None, None) => {
            // A value of the wrong type was already reported; don't report it twice.
            if !present("http") && !present("command") {
                walk.report(both_or_neither("neither `http` nor `command`"));
            }
            return None;
        }
    };
    Some(Health { check, timeout })
}

/// `switch = "overlap" | "stop-first"`; anything else is reported and the default kept.
fn switch(walk: &mut Walk, kit: &Section<'_>) -> Switch {
    let Some(value) = walk.string(kit, "switch", "\"stop-first\"") else {
        return Switch::default();
    };
    match value.value.as_str() {
        "overlap" => Switch::Overlap,
        "stop-first" => Switch::StopFirst,
        other => {
            walk.report(
                Diagnostic::new(
                    value.span,
                    format!("`{other}` is not a way to switch versions"),
                    "unknown switch",
                )
                .help(
                    "write `switch = \"overlap\"` (the default: the new version starts beside \
                     the old) or `switch = \"stop-first\"` (the old version stops first)",
                ),
            );
            Switch::default()
        }
    }
}

fn variables(walk: &mut Walk, kit: &Section<'_>) -> BTreeMap<String, Variable> {
    let mut out = BTreeMap::new();
    let Some(section) = walk.table(kit, "variables") else {
        return out;
    };
    for (name, _) in section.table.iter() {
        check(
            walk,
            &Spanned {
                value: name.to_owned(),
                span: section.key_span(name),
            },
            "variable name",
            check_env_name,
        );
        let Some(entry) = walk.table(&section, name) else {
            continue;
        };
        walk.known_fields(&entry, VARIABLE_FIELDS, "field");
        let mut variable = Variable::default();
        if let Some(provision) = walk.string(&entry, "provision", "\"secret\"") {
            if provision.value == "secret" {
                variable.provision = Some(Provision::Secret);
            } else {
                walk.report(
                    Diagnostic::new(provision.span, format!("`{}` is not a way to provision a variable", provision.value), "unknown provision")
                        .help("the only provision is `provision = \"secret\"`: a random secret generated once at first install"),
                );
            }
        }
        variable.required = walk.boolean(&entry, "required").is_some_and(|r| r.value);
        variable.default = walk
            .string(&entry, "default", "\"production\"")
            .map(|d| d.value);
        variable.description = walk
            .string(&entry, "description", "\"what it is for\"")
            .map(|d| d.value);
        let given = [
            variable.provision.map(|_| "provision"),
            variable.required.then_some("required = true"),
            variable.default.as_ref().map(|_| "default"),
        ];
        let given: Vec<&str> = given.into_iter().flatten().collect();
        if given.len() > 1 {
            walk.report(
                Diagnostic::new(
                    entry.span.clone(),
                    format!("variable `{name}` has both {}", given.join(" and ")),
                    "conflicting settings",
                )
                .help("a variable is provisioned by bale, required from the deployer, or has a default: choose one"),
            );
        }
        out.insert(name.to_owned(), variable);
    }
    out
}

/// The kit's `services`, checked against `[run.services]` and against the kits read before.
fn covered_services(
    walk: &mut Walk,
    kit: &Section<'_>,
    name: &Spanned<String>,
    services: &BTreeMap<String, String>,
    coverage: &mut Coverage,
) -> Option<Vec<String>> {
    let known: Vec<String> = services.keys().cloned().collect();
    let listed = walk.strings(kit, "services", "[\"worker\"]");
    let covers: Vec<Spanned<String>> = match &listed {
        Some(list) => {
            if list.is_empty() {
                walk.report(
                    Diagnostic::new(
                        kit.value_span("services"),
                        format!("kit `{}` names no service", name.value),
                        "empty list",
                    )
                    .help(format!(
                        "list the services it covers; {}",
                        one_of_help(&name.value, &known, "services")
                    )),
                );
            }
            no_duplicates(walk, list, &format!("`services` of {}", kit.title()));
            for service in list {
                if !services.contains_key(&service.value) {
                    walk.report(
                        Diagnostic::new(
                            service.span.clone(),
                            format!(
                                "kit `{}` names service `{}`, which is not in [run.services]",
                                name.value, service.value
                            ),
                            "no such service",
                        )
                        .help(one_of_help(
                            &service.value,
                            &known,
                            "services",
                        )),
                    );
                }
            }
            list.clone()
        }
        // A wrong type was reported by the walk already.
        None if kit.get("services").is_some() => Vec::new(),
        None => {
            if !services.contains_key(&name.value) {
                walk.report(
                    Diagnostic::new(
                        name.span.clone(),
                        format!(
                            "kit `{}` covers no service: there is no service `{}` in [run.services]",
                            name.value, name.value
                        ),
                        "names no service",
                    )
                    .help(format!(
                        "add `services = [\"...\"]` to {} or a service `{}` to [run.services]; known services: {}",
                        kit.title(),
                        name.value,
                        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                    )),
                );
            }
            vec![name.clone()]
        }
    };
    for service in &covers {
        if !services.contains_key(&service.value) {
            continue;
        }
        match coverage.get(&service.value) {
            Some((other, other_span)) => walk.report(
                Diagnostic::new(
                    service.span.clone(),
                    format!(
                        "service `{}` is covered by kit `{}` and kit `{other}`",
                        service.value, name.value
                    ),
                    "covered a second time",
                )
                .related(other_span.clone(), format!("covered by kit `{other}` here"))
                .help("each service belongs to one kit; remove it from one of them"),
            ),
            None => {
                coverage.insert(
                    service.value.clone(),
                    (name.value.clone(), service.span.clone()),
                );
            }
        }
    }
    listed.map(|list| list.into_iter().map(|s| s.value).collect())
}
