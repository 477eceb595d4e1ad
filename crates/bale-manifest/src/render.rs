//! The deterministic TOML form of a manifest, embedded in packages as
//! `.bale/manifest.toml`: fixed section and key order, defaults left out
//! unless they were set, and it reads back to an equal manifest.

use std::fmt::Write;

use crate::schema::{Health, HealthCheck, Kit, Manifest, Provision, Switch, Variable, HOOK_NAMES};

/// A quoted TOML string.
fn string(text: &str) -> String {
    toml_edit::Value::from(text).to_string()
}

/// A key, quoted only when it must be.
fn key(name: &str) -> String {
    toml_edit::Key::new(name).display_repr().into_owned()
}

fn list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| string(i)).collect();
    format!("[{}]", items.join(", "))
}

fn inline<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let pairs: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{} = {v}", key(k)))
        .collect();
    format!("{{ {} }}", pairs.join(", "))
}

/// Collects `key = value` lines under `[header]`s, skipping headers with nothing under them.
#[derive(Default)]
struct Text {
    out: String,
    lines: Vec<String>,
}

impl Text {
    fn set(&mut self, name: &str, value: String) {
        self.lines.push(format!("{} = {value}", key(name)));
    }

    fn list(&mut self, name: &str, items: &[String]) {
        if !items.is_empty() {
            self.set(name, list(items));
        }
    }

    fn optional(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.set(name, string(value));
        }
    }

    /// Ends a table; it is written when it has lines or `always`.
    fn table(&mut self, header: &str, always: bool) {
        if self.lines.is_empty() && !always {
            return;
        }
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        let _ = writeln!(self.out, "[{header}]");
        for line in self.lines.drain(..) {
            let _ = writeln!(self.out, "{line}");
        }
    }
}

fn health(health: &Health) -> String {
    let mut pairs = vec![match &health.check {
        HealthCheck::Http(path) => ("http", string(path)),
        HealthCheck::Command(command) => ("command", string(command)),
    }];
    if let Some(timeout) = &health.timeout {
        pairs.push(("timeout", string(timeout.text())));
    }
    inline(pairs)
}

fn variable(variable: &Variable) -> String {
    let mut pairs = Vec::new();
    if let Some(Provision::Secret) = variable.provision {
        pairs.push(("provision", string("secret")));
    }
    if variable.required {
        pairs.push(("required", "true".to_owned()));
    }
    if let Some(default) = &variable.default {
        pairs.push(("default", string(default)));
    }
    if let Some(description) = &variable.description {
        pairs.push(("description", string(description)));
    }
    if pairs.is_empty() {
        "{}".to_owned()
    } else {
        inline(pairs)
    }
}

fn kit(text: &mut Text, name: &str, kit: &Kit) {
    if kit.main {
        text.set("main", "true".to_owned());
    }
    if !kit.ports.is_empty() {
        let ports: Vec<String> = kit
            .ports
            .iter()
            .map(|p| inline([("name", string(&p.name)), ("port", p.port.to_string())]))
            .collect();
        text.set("ports", format!("[{}]", ports.join(", ")));
    }
    if let Some(h) = &kit.health {
        text.set("health", health(h));
    }
    if let Some(services) = &kit.services {
        text.set("services", list(services));
    }
    if kit.switch != Switch::default() {
        text.set("switch", string(kit.switch.as_str()));
    }
    let header = format!("kits.{}", key(name));
    text.table(&header, true);
    for (variable_name, v) in &kit.variables {
        text.set(variable_name, variable(v));
    }
    text.table(&format!("{header}.variables"), false);
}

/// Renders `manifest` as TOML.
pub(crate) fn to_toml(manifest: &Manifest) -> String {
    let mut text = Text::default();
    let package = &manifest.package;
    text.set("group", string(&package.group));
    text.set("name", string(&package.name));
    text.set("version", string(&package.version));
    text.optional("description", package.description.as_deref());
    text.optional("license", package.license.as_deref());
    text.optional("maintainer", package.maintainer.as_deref());
    text.optional("homepage", package.homepage.as_deref());
    text.table("package", true);

    text.set("name", string(&manifest.stack.name));
    text.optional("kind", manifest.stack.kind.as_deref());
    text.table("stack", true);

    text.list("build", &manifest.dependencies.build);
    text.list("runtime", &manifest.dependencies.runtime);
    text.table("dependencies", false);

    if let Some(source) = &manifest.source {
        text.set("git", string(&source.git));
        text.optional("ref", source.reference.as_deref());
        text.table("source", true);
    }

    let build = &manifest.build;
    text.set("network", build.network.to_string());
    if !build.env.is_empty() {
        text.set(
            "env",
            inline(build.env.iter().map(|(k, v)| (k.as_str(), string(v)))),
        );
    }
    if let Some(before) = &build.before {
        text.set("before", list(before));
    }
    if let Some(main) = &build.main {
        text.set("main", list(main));
    }
    if let Some(after) = &build.after {
        text.set("after", list(after));
    }
    if let Some(finalize) = &build.finalize {
        text.set("finalize", list(finalize));
    }
    text.list("destinations", &build.destinations);
    text.list("cache", &build.cache);
    text.optional("timeout", build.timeout.as_ref().map(|t| t.text()));
    text.optional("memory", build.memory.as_ref().map(|m| m.text()));
    text.table("build", true);

    text.list("commands", &manifest.test.commands);
    text.table("test", false);

    for hook in HOOK_NAMES {
        text.list(hook, manifest.hooks.get(hook).unwrap_or_default());
    }
    text.table("hooks", false);

    let run = &manifest.run;
    text.optional("workdir", run.workdir.as_deref());
    if run.limits.any() {
        let mut pairs = Vec::new();
        if let Some(memory) = &run.limits.memory {
            pairs.push(("memory", string(memory.text())));
        }
        if let Some(cpu) = run.limits.cpu_text() {
            pairs.push(("cpu", string(&cpu)));
        }
        if let Some(tasks) = run.limits.tasks {
            pairs.push(("tasks", tasks.to_string()));
        }
        text.set("limits", inline(pairs));
    }
    text.table("run", false);
    for (name, command) in &run.services {
        text.set(name, string(command));
    }
    text.table("run.services", false);
    for (name, command) in &run.commands {
        text.set(name, string(command));
    }
    text.table("run.commands", false);

    for (name, k) in &manifest.kits {
        kit(&mut text, name, k);
    }
    text.out
}
