//! Reading valid manifests: the spec's example, defaults, kind resolution,
//! the deterministic TOML rendering and the accessors.

use crate::common;

use std::time::Duration;

use bale_manifest::{Catalog, HealthCheck, Kind, Kinds, Manifest, ParseOptions, Provision, Switch};
use common::{parse, MINIMAL, SPEC_EXAMPLE};

#[test]
fn the_spec_example_parses_with_every_field() {
    let m = parse(SPEC_EXAMPLE).unwrap_or_else(|d| panic!("{}", d.render(false)));
    assert_eq!(
        m.coordinate().unwrap().to_string(),
        "org.example:flaskr:1.0.0"
    );
    assert_eq!(
        m.package.maintainer.as_deref(),
        Some("Jane Doe <jane@example.org>")
    );
    assert_eq!(m.stack.kind.as_deref(), Some("python"));
    assert_eq!(m.dependencies.runtime, ["libpq5"]);
    assert_eq!(
        m.source.as_ref().unwrap().reference.as_deref(),
        Some("main")
    );
    assert_eq!(
        m.build.env.get("PIP_NO_CACHE_DIR").map(String::as_str),
        Some("1")
    );
    assert_eq!(m.build.finalize.as_deref(), Some(&[][..]));
    assert_eq!(m.build_timeout(), Duration::from_secs(1800));
    assert_eq!(m.build_memory(), Some(4 << 30));
    assert_eq!(
        m.hooks.get("post-install").unwrap(),
        ["flask --app flaskr init-db"]
    );
    assert_eq!(m.hooks.pre_upgrade, ["..."]);
    assert_eq!(m.run.commands.len(), 2);
    let web = &m.kits["web"];
    assert!(web.main);
    assert_eq!(
        web.health.as_ref().unwrap().check,
        HealthCheck::Http("/healthz".to_owned())
    );
    assert_eq!(
        web.health.as_ref().unwrap().timeout(),
        Duration::from_secs(30)
    );
    assert_eq!(
        web.variables["SECRET_KEY"].provision,
        Some(Provision::Secret)
    );
    assert!(web.variables["DATABASE_URL"].required);
}

#[test]
fn accessors_answer_what_deploy_needs() {
    let m = parse(SPEC_EXAMPLE).unwrap();
    assert_eq!(m.services().keys().collect::<Vec<_>>(), ["web", "worker"]);
    assert_eq!(m.kit_for_service("web").map(|(name, _)| name), Some("web"));
    assert_eq!(
        m.kit_for_service("worker").map(|(name, _)| name),
        Some("worker")
    );
    assert_eq!(m.port_for_service("web"), Some(8080));
    assert_eq!(m.port_for_service("worker"), None);
    assert_eq!(m.main_kit().map(|(name, _)| name), Some("web"));
    assert_eq!(
        m.variable_defaults().get("FLASK_ENV").map(String::as_str),
        Some("production")
    );
    assert_eq!(m.variables().len(), 3);
    assert_eq!(m.workdir(), "app");
}

#[test]
fn unset_fields_take_their_documented_defaults() {
    let m = parse(MINIMAL).unwrap();
    assert!(!m.build.network);
    assert_eq!(m.build.main, None);
    assert_eq!(m.build_timeout(), Duration::from_secs(3600));
    assert_eq!(m.build_memory(), None);
    assert_eq!(m.workdir(), "app");
    assert!(m.source.is_none());
    let no_stack = MINIMAL.replace(
        "[stack]\nname = \"debian-bookworm\"\nkind = \"python\"\n",
        "",
    );
    assert_eq!(parse(&no_stack).unwrap().stack.name, "debian-bookworm");
}

#[test]
fn a_kits_switch_defaults_to_overlap_and_stop_first_survives_rendering() {
    let text = format!("{MINIMAL}\n[kits.web]\n\n[kits.worker]\nswitch = \"stop-first\"\n");
    let m = parse(&text).unwrap_or_else(|d| panic!("{}", d.render(false)));
    assert_eq!(m.kits["web"].switch, Switch::Overlap);
    assert_eq!(m.switch_for_service("web"), Switch::Overlap);
    assert_eq!(m.switch_for_service("worker"), Switch::StopFirst);
    let rendered = m.to_toml();
    assert!(rendered.contains("switch = \"stop-first\""), "{rendered}");
    assert_eq!(parse(&rendered).unwrap(), m);
}

#[test]
fn the_branch_version_wins_over_the_file() {
    let options = ParseOptions {
        version_override: Some("2.0.0".to_owned()),
    };
    let m = Manifest::parse("bale.toml", MINIMAL, &Catalog::default(), &options).unwrap();
    assert_eq!(m.package.version, "2.0.0");
}

#[test]
fn the_version_may_be_left_out_when_the_branch_gives_one() {
    let text = MINIMAL.replace("version = \"1.0.0\"\n", "");
    assert!(parse(&text).is_err());
    let options = ParseOptions {
        version_override: Some("3.1".to_owned()),
    };
    let m = Manifest::parse("bale.toml", &text, &Catalog::default(), &options).unwrap();
    assert_eq!(m.coordinate().unwrap().to_string(), "org.example:hello:3.1");
}

#[test]
fn stacks_come_from_the_catalog_the_caller_gives() {
    let text = MINIMAL.replace("debian-bookworm", "alpine");
    assert!(parse(&text).is_err());
    let catalog = Catalog::new(vec!["alpine".to_owned()], Kinds::builtin());
    assert!(Manifest::parse("bale.toml", &text, &catalog, &ParseOptions::default()).is_ok());
}

#[test]
fn resolving_fills_the_kinds_default_actions_only_where_unset() {
    let kinds = Kinds::builtin();
    let m = parse(MINIMAL).unwrap().resolved(&kinds);
    let python = kinds.get("python").unwrap();
    assert_eq!(m.build.main.as_ref(), Some(&python.main));
    assert_eq!(m.build.finalize.as_ref(), Some(&python.finalize));
    assert!(python.main[1].contains("pyproject.toml"));

    let spec = parse(SPEC_EXAMPLE).unwrap().resolved(&kinds);
    assert_eq!(
        spec.build.main.unwrap(),
        ["pip install -r requirements.txt"]
    );
    assert_eq!(spec.build.finalize.unwrap(), Vec::<String>::new());
}

#[test]
fn resolving_uses_an_admins_kind_and_gives_empty_actions_without_a_kind() {
    let mut kinds = Kinds::builtin();
    kinds.insert(
        "python",
        Kind {
            main: vec!["make venv".to_owned()],
            ..Kind::default()
        },
    );
    let m = parse(MINIMAL).unwrap().resolved(&kinds);
    assert_eq!(m.build.main.unwrap(), ["make venv"]);

    let no_kind = parse(&MINIMAL.replace("kind = \"python\"\n", ""))
        .unwrap()
        .resolved(&kinds);
    assert_eq!(no_kind.build.main, Some(vec![]));
    assert_eq!(no_kind.build.finalize, Some(vec![]));
}

#[test]
fn an_admins_kind_gives_before_and_after_where_the_manifest_sets_none() {
    let mut kinds = Kinds::builtin();
    kinds.insert(
        "python",
        Kind {
            before: vec!["test -f requirements.txt".to_owned()],
            after: vec!["python3 -m compileall -q .".to_owned()],
            ..Kind::default()
        },
    );
    let m = parse(MINIMAL).unwrap().resolved(&kinds);
    assert_eq!(m.build.before.unwrap(), ["test -f requirements.txt"]);
    assert_eq!(m.build.after.unwrap(), ["python3 -m compileall -q ."]);

    // The manifest's own, even empty, wins; and it survives rendering.
    let own = parse(&format!(
        "{MINIMAL}\n[build]\nbefore = []\nafter = [\"true\"]\n"
    ))
    .unwrap_or_else(|d| panic!("{}", d.render(false)));
    let resolved = own.resolved(&kinds);
    assert_eq!(resolved.build.before, Some(vec![]));
    assert_eq!(
        resolved.build.after.as_deref(),
        Some(&["true".to_owned()][..])
    );
    assert_eq!(
        parse(&own.to_toml()).unwrap_or_else(|d| panic!("{}", d.render(false))),
        own
    );
}

#[test]
fn to_toml_parses_back_to_an_equal_manifest() {
    for text in [SPEC_EXAMPLE, MINIMAL] {
        let m = parse(text).unwrap();
        let rendered = m.to_toml();
        let again = parse(&rendered).unwrap_or_else(|d| panic!("{}\n{rendered}", d.render(false)));
        assert_eq!(again, m, "{rendered}");
        let resolved = m.resolved(&Kinds::builtin());
        assert_eq!(parse(&resolved.to_toml()).unwrap(), resolved);
    }
}

#[test]
fn to_toml_is_the_same_whatever_the_order_in_the_file() {
    let reordered = r#"[run.services]
worker = "./work"
web = "./serve"

[stack]
kind = "python"
name = "debian-bookworm"

[package]
version = "1.0.0"
name = "hello"
group = "org.example"
"#;
    assert_eq!(
        parse(reordered).unwrap().to_toml(),
        parse(MINIMAL).unwrap().to_toml()
    );
}

#[test]
fn to_toml_of_the_spec_example_is_stable() {
    insta::assert_snapshot!(parse(SPEC_EXAMPLE).unwrap().to_toml());
}

#[test]
fn reading_a_missing_file_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let error = Manifest::from_path(
        &dir.path().join("bale.toml"),
        &Catalog::default(),
        &ParseOptions::default(),
    )
    .unwrap_err()
    .render(false);
    assert!(error.contains("bale init"), "{error}");
}

#[test]
fn reading_a_file_gives_the_same_manifest_as_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bale.toml");
    std::fs::write(&path, SPEC_EXAMPLE).unwrap();
    let m = Manifest::from_path(&path, &Catalog::default(), &ParseOptions::default()).unwrap();
    assert_eq!(m, parse(SPEC_EXAMPLE).unwrap());
}

#[test]
fn inline_and_header_forms_of_tables_read_the_same() {
    let header = format!(
        "{MINIMAL}\n[[kits.web.ports]]\nname = \"http\"\nport = 8080\n\n[kits.web.health]\ncommand = \"./check\"\n"
    );
    let inline = format!(
        "{MINIMAL}\n[kits.web]\nports = [{{ name = \"http\", port = 8080 }}]\nhealth = {{ command = \"./check\" }}\n"
    );
    assert_eq!(parse(&header).unwrap(), parse(&inline).unwrap());
}

#[test]
fn a_manifest_round_trips_through_json() {
    let m = parse(SPEC_EXAMPLE).unwrap();
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains("\"http\":\"/healthz\""), "{json}");
    assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
}

#[test]
fn run_limits_parse_and_survive_the_installed_rendering() {
    let text =
        format!("{MINIMAL}\n[run]\nlimits = {{ memory = \"512M\", cpu = \"1.5\", tasks = 256 }}\n");
    let m = parse(&text).unwrap_or_else(|d| panic!("{}", d.render(false)));
    let limits = &m.run.limits;
    assert_eq!(limits.memory.as_ref().map(|s| s.bytes()), Some(512 << 20));
    assert_eq!(limits.cpu_millis, Some(1500));
    assert_eq!(limits.cpu_text().as_deref(), Some("1.5"));
    assert_eq!(limits.tasks, Some(256));
    let installed = Manifest::parse_installed("manifest.toml", &m.to_toml())
        .unwrap_or_else(|d| panic!("{}", d.render(false)));
    assert_eq!(&installed.run.limits, limits);
}

#[test]
fn run_limits_that_are_not_limits_are_named() {
    for (limits, expected) in [
        ("{ cpu = \"0\" }", "CPU share"),
        ("{ cpu = \"1.2345\" }", "CPU share"),
        ("{ cpu = \"two\" }", "CPU share"),
        ("{ memory = \"lots\" }", "size"),
        ("{ tasks = 0 }", "tasks"),
        ("{ disk = \"1G\" }", "disk"),
    ] {
        let text = format!("{MINIMAL}\n[run]\nlimits = {limits}\n");
        let errors = common::errors(&text);
        assert!(errors.contains(expected), "{limits}: {errors}");
    }
}
