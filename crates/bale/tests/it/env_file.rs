//! `bale deploy --env-file`: variables from a file or standard input, so
//! secrets stay off the command line; `--env` wins over the file.

use crate::deploy_fixture;

use deploy_fixture::World;

const MANIFEST: &str = r#"[package]
group = "org.example"
name = "envy"
version = "1.0.0"

[stack]
name = "host"

[hooks]
post-install = ["echo \"$GREETING|$COLOUR|$SECRET\" > \"$BALE_RUN/seen\""]
"#;

#[test]
fn variables_come_from_standard_input_and_env_wins_over_the_file() {
    let world = World::new();
    world.isolation_none();
    let package = world.package("envy", MANIFEST, &[("share/readme", "envy\n", false)]);
    let out = world
        .bale()
        .args(["deploy", "envy"])
        .arg(&package)
        .args([
            "--allow-unsigned",
            "--env-file",
            "-",
            "--env",
            "COLOUR=green",
        ])
        .write_stdin("# the app's settings\nGREETING=hi there\n\nCOLOUR=red\nSECRET=s3cr=t\n")
        .output()
        .expect("bale deploy");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = std::fs::read_to_string(world.run_dir("envy").join("seen")).expect("the hook ran");
    assert_eq!(seen.trim_end(), "hi there|green|s3cr=t");
}

#[test]
fn a_line_that_is_not_name_value_is_refused_with_its_number() {
    let world = World::new();
    world.isolation_none();
    let package = world.package("envy", MANIFEST, &[("share/readme", "envy\n", false)]);
    let file = world.home().join("../app.env");
    std::fs::write(&file, "GREETING=hi\njust words\n").expect("env file");
    let out = world
        .bale()
        .args(["deploy", "envy"])
        .arg(&package)
        .arg("--allow-unsigned")
        .arg("--env-file")
        .arg(&file)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("NAME=VALUE"),
        "{stderr}"
    );
    assert!(
        !world.run_dir("envy").join("seen").exists(),
        "nothing was deployed"
    );
}
