//! Service logs rotate by size through the log pump: `web.log` holds the
//! newest output, at most `keep` older files stay, none past the size; the
//! pump outlives the `bale` that started the service and writes what the
//! service says while it stops.

use crate::deploy_fixture;

use std::path::Path;

use deploy_fixture::{wait_for, World};

/// A service that writes `lines` numbered lines, marks that it is done, then
/// waits; it says goodbye on SIGTERM.
fn chatty(lines: u32) -> String {
    format!(
        r#"[package]
group = "org.example"
name = "chatty"
version = "1.0.0"

[stack]
name = "host"

[run.services]
web = "trap 'echo goodbye; exit 0' TERM; i=0; while [ $i -lt {lines} ]; do echo \"line $i of the chatty service\"; i=$((i+1)); done; touch \"$BALE_RUN/done\"; while :; do sleep 0.1; done"
"#
    )
}

fn logs(dir: &Path) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("logs dir")
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| {
            let text = std::fs::read_to_string(e.path()).expect("log");
            (e.file_name().to_string_lossy().into_owned(), text)
        })
        .collect();
    found.sort();
    found
}

fn deploy_chatty(world: &World, lines: u32, config: &str) {
    std::fs::create_dir_all(world.home()).expect("home");
    std::fs::write(
        world.home().join("config.toml"),
        format!("isolation = \"none\"\n{config}"),
    )
    .expect("config");
    let package = world.package("chatty", &chatty(lines), &[]);
    world
        .bale()
        .args(["deploy", "chatty"])
        .arg(&package)
        .arg("--allow-unsigned")
        .assert()
        .success();
}

#[test]
fn a_service_writing_past_the_size_leaves_keep_plus_one_files_within_the_size_newest_in_web_log() {
    let world = World::new();
    // 2000 lines of about 30 bytes: 60 kB through files of 4 KiB, 2 kept.
    deploy_chatty(&world, 2000, "[logs]\nmax-size = \"4KiB\"\nkeep = 2\n");
    let run = world.run_dir("chatty");
    let logs_dir = run.join("logs");
    wait_for("the service to write every line", || {
        run.join("done").exists()
    });
    wait_for("the last line to reach web.log", || {
        std::fs::read_to_string(logs_dir.join("web.log"))
            .is_ok_and(|t| t.ends_with("line 1999 of the chatty service\n"))
    });

    let found = logs(&logs_dir);
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["web.log", "web.log.1", "web.log.2"]);
    for (name, text) in &found {
        assert!(text.len() <= 4096, "{name} holds {} bytes", text.len());
        assert!(text.ends_with('\n'), "{name} ends mid-line");
    }
    // Oldest to newest, the kept files are one run of lines with no gap.
    let numbers: Vec<u32> = [&found[2].1, &found[1].1, &found[0].1]
        .iter()
        .flat_map(|t| t.lines())
        .map(|l| {
            l.trim_start_matches("line ")
                .trim_end_matches(" of the chatty service")
                .parse()
                .expect("a numbered line")
        })
        .collect();
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    assert_eq!(numbers.last(), Some(&1999));

    // `bale logs` shows the newest lines, from web.log.
    let out = world
        .bale()
        .args(["logs", "chatty", "web", "-n", "2"])
        .output()
        .expect("bale logs");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "line 1998 of the chatty service\nline 1999 of the chatty service\n"
    );
    world.stop("chatty");
}

#[test]
fn what_a_service_says_while_it_stops_reaches_its_log() {
    let world = World::new();
    deploy_chatty(&world, 3, "");
    let run = world.run_dir("chatty");
    wait_for("the service to start", || run.join("done").exists());
    world
        .bale()
        .args(["service", "chatty", "stop"])
        .assert()
        .success();
    wait_for("goodbye in web.log", || {
        std::fs::read_to_string(run.join("logs/web.log")).is_ok_and(|t| t.ends_with("goodbye\n"))
    });
}

#[test]
fn bale_logs_follow_shows_every_line_across_rotations() {
    let world = World::new();
    std::fs::create_dir_all(world.home()).expect("home");
    std::fs::write(
        world.home().join("config.toml"),
        "isolation = \"none\"\n[logs]\nmax-size = \"1KiB\"\nkeep = 1\n",
    )
    .expect("config");
    // Waits for `go`, then writes 200 lines slowly enough for -f to read each file.
    let manifest = r#"[package]
group = "org.example"
name = "chatty"
version = "1.0.0"

[stack]
name = "host"

[run.services]
web = "while [ ! -e \"$BALE_RUN/go\" ]; do sleep 0.05; done; i=0; while [ $i -lt 200 ]; do echo \"line $i\"; i=$((i+1)); sleep 0.01; done; exec sleep 600"
"#;
    let package = world.package("chatty", manifest, &[]);
    world
        .bale()
        .args(["deploy", "chatty", "--allow-unsigned"])
        .arg(&package)
        .assert()
        .success();
    let seen = world.dir.path().join("followed");
    let mut follow = std::process::Command::new(assert_cmd::cargo::cargo_bin("bale"));
    follow
        .args(["logs", "chatty", "web", "-f", "-n", "0"])
        .env("BALE_HOME", world.home())
        .stdout(std::fs::File::create(&seen).expect("out"))
        .stderr(std::process::Stdio::null());
    let _follower = bale_testkit::ProcessGuard::spawn(&mut follow, "bale logs -f");
    // Time for -f to open the log before the first line comes.
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::fs::write(world.run_dir("chatty").join("go"), "").expect("go");
    wait_for("line 199 through bale logs -f", || {
        std::fs::read_to_string(&seen).is_ok_and(|t| t.contains("line 199\n"))
    });
    let text = std::fs::read_to_string(&seen).expect("followed");
    let expected: String = (0..200).map(|i| format!("line {i}\n")).collect();
    assert_eq!(text, expected);
    // 200 lines of about 8 bytes through files of 1 KiB: it did rotate.
    assert!(world.run_dir("chatty").join("logs/web.log.1").exists());
    world.stop("chatty");
}
