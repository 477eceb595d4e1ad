//! Every class of manifest mistake gets its own rendered diagnostic:
//! where it is, the text underlined, and what would be right.

use crate::common;

use bale_manifest::{Catalog, Manifest, ParseOptions};
use common::{errors, parse, MINIMAL};
use insta::assert_snapshot;

#[test]
fn invalid_toml_syntax_is_reported_with_its_position() {
    assert_snapshot!(errors("[package]\nname = \"hello\nversion = \"1.0\"\n"));
}

#[test]
fn a_duplicate_key_is_reported_by_the_toml_parser() {
    assert_snapshot!(errors(
        &MINIMAL.replace("name = \"hello\"", "name = \"hello\"\nname = \"again\"")
    ));
}

#[test]
fn an_unknown_field_suggests_the_close_one_and_lists_known_fields() {
    assert_snapshot!(errors(&format!("{MINIMAL}\n[build]\nnetwrok = true\n")));
}

#[test]
fn an_unknown_section_suggests_the_close_one() {
    assert_snapshot!(errors(&format!("{MINIMAL}\n[bild]\nmain = [\"make\"]\n")));
}

#[test]
fn a_value_of_the_wrong_type_says_what_was_expected() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[build]\nnetwork = \"yes\"\nbefore = \"make\"\nafter = [\"ok\", 3]\n"
    )));
}

#[test]
fn missing_group_name_and_version_are_each_reported() {
    assert_snapshot!(errors("[package]\ndescription = \"nothing else\"\n"));
}

#[test]
fn a_missing_package_section_is_reported_for_the_whole_file() {
    assert_snapshot!(errors("[stack]\nname = \"host\"\n"));
}

#[test]
fn a_bad_group_and_a_bad_name_follow_the_coordinate_rules() {
    assert_snapshot!(errors(
        &MINIMAL
            .replace("org.example", "Org..Example")
            .replace("\"hello\"", "\"Hello World\"")
    ));
}

#[test]
fn a_version_that_is_not_one_is_refused() {
    assert_snapshot!(errors(&MINIMAL.replace("1.0.0", "v1.0")));
}

#[test]
fn a_bad_version_from_the_branch_is_refused() {
    let options = ParseOptions {
        version_override: Some("next".to_owned()),
    };
    let diagnostics =
        Manifest::parse("bale.toml", MINIMAL, &Catalog::default(), &options).unwrap_err();
    assert_snapshot!(diagnostics.render(false));
}

#[test]
fn an_unknown_stack_lists_the_machines_stacks() {
    assert_snapshot!(errors(
        &MINIMAL.replace("debian-bookworm", "debian-bokworm")
    ));
}

#[test]
fn an_unknown_kind_lists_the_known_kinds() {
    assert_snapshot!(errors(&MINIMAL.replace("\"python\"", "\"pyhton\"")));
}

#[test]
fn an_unknown_hook_name_suggests_the_close_one() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[hooks]\npost-instal = [\"./setup\"]\n"
    )));
}

#[test]
fn a_kit_without_services_must_share_a_services_name() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[kits.api]\nports = [{{ name = \"http\", port = 8080 }}]\n"
    )));
}

#[test]
fn a_kit_listing_a_missing_service_suggests_the_close_one() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[kits.back]\nservices = [\"wroker\"]\n"
    )));
}

#[test]
fn only_one_kit_may_be_main() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[kits.web]\nmain = true\n\n[kits.worker]\nmain = true\n"
    )));
}

#[test]
fn an_unparseable_duration_is_refused() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[build]\ntimeout = \"30 minutes\"\n"
    )));
}

#[test]
fn an_unparseable_size_is_refused() {
    assert_snapshot!(errors(&format!("{MINIMAL}\n[build]\nmemory = \"4X\"\n")));
}

#[test]
fn a_package_listed_twice_points_at_both() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[dependencies]\nruntime = [\"libpq5\", \"curl\", \"libpq5\"]\n"
    )));
}

#[test]
fn two_kits_covering_one_service_is_refused() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[kits.web]\n\n[kits.front]\nservices = [\"web\"]\n"
    )));
}

#[test]
fn duplicate_port_names_in_a_kit_are_refused() {
    let kit = "[kits.web]\nports = [{ name = \"http\", port = 8080 }, { name = \"http\", port = 8081 }]\n";
    assert_snapshot!(errors(&format!("{MINIMAL}\n{kit}")));
}

#[test]
fn a_provision_other_than_secret_is_refused() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[kits.web.variables]\nTOKEN = {{ provision = \"random\" }}\n"
    )));
}

#[test]
fn health_with_both_http_and_command_is_refused() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[kits.web]\nhealth = {{ http = \"/healthz\", command = \"./check\" }}\n"
    )));
}

#[test]
fn health_with_neither_http_nor_command_is_refused() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[kits.web]\nhealth = {{ timeout = \"30s\" }}\n"
    )));
}

#[test]
fn a_switch_other_than_overlap_or_stop_first_is_refused() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[kits.web]\nswitch = \"blue-green\"\n"
    )));
}

#[test]
fn ports_out_of_range_are_refused() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[kits.web]\nports = [{{ name = \"http\", port = 70000 }}, {{ name = \"admin\", port = 0 }}]\n"
    )));
}

#[test]
fn every_error_in_a_file_is_reported_at_once() {
    let text = r#"[package]
group = "org.example"
name = "Bad Name"

[stack]
name = "debian-bookworm"
kind = "python"

[build]
bild = ["make"]
timeout = "forever"

[hooks]
post-instal = ["./setup"]

[run.services]
web = "./serve"

[kits.web]
main = true
ports = [{ name = "http", port = 99999 }]

[kits.admin]
main = true
"#;
    let diagnostics = parse(text).unwrap_err();
    assert_eq!(diagnostics.len(), 8, "{}", diagnostics.render(false));
    assert_snapshot!(diagnostics.render(false));
}

#[test]
fn diagnostics_give_line_and_column_for_machine_output() {
    let diagnostics = parse(&MINIMAL.replace("\"python\"", "\"pyhton\"")).unwrap_err();
    let located = diagnostics.located();
    assert_eq!(located.len(), 1);
    assert_eq!((located[0].line, located[0].column), (Some(8), Some(8)));
    assert_eq!(located[0].message, "unknown kind `pyhton`");
    assert!(located[0]
        .help
        .as_deref()
        .unwrap_or("")
        .contains("did you mean `python`?"));
}

#[test]
fn colour_is_added_only_when_asked() {
    let diagnostics = parse(&MINIMAL.replace("\"python\"", "\"pyhton\"")).unwrap_err();
    assert!(!diagnostics.render(false).contains('\u{1b}'));
    assert!(diagnostics.render(true).contains('\u{1b}'));
}

#[test]
fn a_field_outside_any_section_is_refused() {
    assert_snapshot!(errors(&format!("nme = \"hello\"\n{MINIMAL}")));
}

#[test]
fn a_table_defined_twice_is_underlined_whole() {
    assert_snapshot!(errors(&format!(
        "{MINIMAL}\n[package]\nlicense = \"MIT\"\n"
    )));
}

/// The first line of `errors(text)` for a manifest expected to be refused.
fn refusal(text: &str) -> String {
    let rendered = errors(text);
    assert!(!rendered.trim().is_empty(), "accepted:\n{text}");
    rendered
}

#[test]
fn a_source_ref_that_git_would_read_as_an_option_is_refused_at_check() {
    let text = format!(
        "{MINIMAL}\n[source]\ngit = \"https://git.example.org/app.git\"\nref = \"--pathspec-from-file=/root/.local/share/bale/keys/default.key\"\n"
    );
    let rendered = refusal(&text);
    assert!(rendered.contains("is not a valid git ref"), "{rendered}");
    assert!(rendered.contains("would read as an option"), "{rendered}");
    for reference in ["main~1", "a b", "a..b", "x.lock"] {
        let text = format!(
            "{MINIMAL}\n[source]\ngit = \"https://git.example.org/app.git\"\nref = \"{reference}\"\n"
        );
        assert!(refusal(&text).contains("is not a valid git ref"));
    }
}

#[test]
fn a_source_url_with_a_command_transport_or_an_option_is_refused_at_check() {
    for url in [
        "ext::sh -c id",
        "--upload-pack=id",
        "ftp://example.org/a.git",
        "ssh://-oProxyCommand=id/a",
    ] {
        let text = format!("{MINIMAL}\n[source]\ngit = \"{url}\"\n");
        let rendered = refusal(&text);
        assert!(
            rendered.contains("is not a valid git source"),
            "{url}: {rendered}"
        );
    }
}

#[test]
fn remote_urls_and_local_paths_pass_check() {
    for url in [
        "https://git.example.org/app.git",
        "git@example.org:org/app.git",
        "ssh://git@example.org/app.git",
        "git://example.org/app.git",
        "../app",
        "/srv/git/app.git",
        "file:///srv/git/app.git",
    ] {
        let text = format!("{MINIMAL}\n[source]\ngit = \"{url}\"\nref = \"refs/tags/v1.0\"\n");
        assert!(parse(&text).is_ok(), "{url} refused");
    }
}

#[test]
fn a_debian_package_name_with_shell_metacharacters_is_refused_at_check() {
    for name in ["curl;id", "curl$(id)", "a|b", "`id`", "-y", "x>y"] {
        let text = format!("{MINIMAL}\n[dependencies]\nruntime = [\"{name}\"]\n");
        let rendered = refusal(&text);
        assert!(
            rendered.contains("is not a valid Debian package name"),
            "{name}: {rendered}"
        );
    }
    let text =
        format!("{MINIMAL}\n[dependencies]\nbuild = [\"g++\", \"libstdc++6\", \"python3.11\"]\n");
    assert!(parse(&text).is_ok());
}

#[test]
fn a_manifest_larger_than_the_archive_reader_takes_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bale.toml");
    let padding = "#".repeat(1 << 20);
    let mut text = MINIMAL.to_owned();
    while (text.len() as u64) <= bale_manifest::MAX_MANIFEST_BYTES {
        text.push_str(&padding);
        text.push('\n');
    }
    std::fs::write(&path, &text).unwrap();
    let refused = Manifest::from_path(&path, &Catalog::default(), &ParseOptions::default())
        .expect_err("a manifest over the limit was accepted")
        .render(false);
    assert!(
        refused.contains(&bale_manifest::MAX_MANIFEST_BYTES.to_string()),
        "{refused}"
    );
}
