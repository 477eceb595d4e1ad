//! The stack verbs against a real debootstrap image.
//!
//! The Debian test needs root and the network to a Debian mirror the first
//! time; the image is then kept in the image cache (`BALE_TEST_STACK_CACHE`,
//! default `/var/tmp/bale-stack-cache`) and later runs copy it from there.

use std::fs;
use std::path::PathBuf;

use bale_home::Home;
use bale_stack::{
    identity_of, image_identity, image_manifest, Difference, StackError, StackState, Stacks,
    HOST_DIGEST,
};
use bale_testkit::{is_root, require, stack_cache};

fn state_of(stacks: &Stacks, name: &str) -> StackState {
    stacks
        .list()
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap()
        .state
}

#[test]
fn debian_stack_is_created_verified_kept_warm_and_restored_by_sanitize() {
    if !require(
        is_root(),
        "creating a Debian stack needs root (debootstrap)",
    ) {
        return;
    }
    let home_dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let stacks = Stacks::load(&Home::new(home_dir.path()), None)
        .unwrap()
        .with_image_cache(stack_cache());
    let name = "debian-bookworm";
    assert_eq!(state_of(&stacks, name), StackState::Absent);

    let image = stacks
        .create(name, None, &mut |line| eprintln!("{line}"))
        .unwrap();
    assert_eq!(
        image.root,
        home_dir.path().join("stacks/debian-bookworm/image")
    );

    // The list names the image's identity, as the index will.
    let listed = stacks
        .list()
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap();
    assert_eq!(listed.identity.as_deref(), Some(image.identity.as_str()));
    assert_eq!(listed.digest.as_deref(), Some(image.digest.as_str()));

    // The digest is a function of the image alone.
    let first = image_manifest(&image.root).unwrap();
    let second = image_manifest(&image.root).unwrap();
    assert_eq!(first.digest, second.digest);
    assert_eq!(first.digest, image.digest);

    // The record: the mirror the image's apt uses, and dpkg's package list.
    let record = stacks.record(name).unwrap();
    assert_eq!(record.mirror, stacks.mirror_for(name, None).unwrap());
    let sources = fs::read_to_string(image.root.join("etc/apt/sources.list")).unwrap();
    assert_eq!(sources, format!("deb {} bookworm main\n", record.mirror));
    assert!(
        record.packages.iter().any(|p| p.starts_with("apt=")),
        "{:?}",
        record.packages
    );
    assert!(record.packages.windows(2).all(|w| w[0] < w[1]));

    // The identity by content: suite, the image's architecture, its packages.
    let content = image_identity(&image.root, "bookworm").unwrap();
    assert_eq!(content.packages, record.packages);
    assert_eq!(
        image.identity,
        identity_of("bookworm", &content.arch, &record.packages)
    );
    assert_eq!(record.identity.as_deref(), Some(image.identity.as_str()));
    assert_ne!(image.identity, image.digest);

    // A second create refuses and says what to do instead.
    let exists = stacks.create(name, None, &mut |_| {}).unwrap_err();
    assert!(matches!(exists, StackError::Exists { .. }), "{exists:?}");
    let said = exists.to_string();
    assert!(
        said.contains("bale stack sanitize debian-bookworm") && said.contains("--recreate"),
        "{said}"
    );

    let listed = stacks
        .list()
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap();
    assert_eq!(listed.state, StackState::Created);
    assert!(listed.size_bytes.unwrap() > 50 << 20, "{listed:?}");
    assert_eq!(listed.digest.as_deref(), Some(image.digest.as_str()));

    // The image is a root a sandbox can run.
    let sandbox = bale_sandbox::Sandbox::new().unwrap();
    let spec = bale_sandbox::SandboxSpec::new(
        vec![image.root.clone()],
        vec![
            "/bin/sh".into(),
            "-c".into(),
            "cat /etc/debian_version; dpkg-query -W -f '${Version}' apt".into(),
        ],
    );
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let ran = sandbox.run(&spec, &mut out, &mut err).unwrap();
    assert!(ran.success(), "{}", String::from_utf8_lossy(&err));
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("12."), "{out}");
    assert!(record
        .packages
        .contains(&format!("apt={}", out.lines().nth(1).unwrap())));

    // Warm keeps layers; stop evicts them and keeps the image.
    let layer = stacks.layers_dir(name).join("some-layer");
    fs::create_dir_all(&layer).unwrap();
    stacks.start(name).unwrap();
    assert_eq!(state_of(&stacks, name), StackState::Warm);
    assert!(layer.exists());
    stacks.stop(name).unwrap();
    assert_eq!(state_of(&stacks, name), StackState::Created);
    assert!(!layer.exists());
    assert!(image.root.join("etc/debian_version").exists());

    // A modified file is found, named, and restored.
    let original = fs::read(image.root.join("etc/debian_version")).unwrap();
    fs::write(image.root.join("etc/debian_version"), "tampered\n").unwrap();
    fs::remove_file(image.root.join("etc/hostname")).ok();
    let report = stacks
        .sanitize(name, &mut |line| eprintln!("{line}"))
        .unwrap();
    assert!(report.rebuilt);
    assert!(
        report
            .differences
            .contains(&Difference::Changed("etc/debian_version".into())),
        "{:?}",
        report.differences
    );
    assert_eq!(report.digest, image.digest);
    assert_eq!(
        fs::read(image.root.join("etc/debian_version")).unwrap(),
        original
    );

    let clean = stacks.sanitize(name, &mut |_| {}).unwrap();
    assert!(!clean.rebuilt);
    assert!(clean.differences.is_empty());

    // The check before a build: quiet on a clean image, a sanitize on a changed one.
    let mut said = Vec::new();
    let checked = stacks
        .checked_image(name, &mut |line| said.push(line.to_owned()))
        .unwrap();
    assert!(
        checked.differences.is_empty() && said.is_empty(),
        "{said:?}"
    );
    // The build that checked it has ended.
    drop(checked);
    fs::write(image.root.join("etc/intruder"), "").unwrap();
    let checked = stacks
        .checked_image(name, &mut |line| said.push(line.to_owned()))
        .unwrap();
    assert_eq!(
        checked.differences,
        vec![Difference::Added("etc/intruder".into())]
    );
    assert_eq!(
        said.first().map(String::as_str),
        Some(
            "stack debian-bookworm changed since it was recorded (added /etc/intruder): sanitizing"
        )
    );
    assert!(!image.root.join("etc/intruder").exists());
    assert_eq!(checked.image.identity, image.identity);

    // A sanitize waits until the builds holding the image have ended: the
    // image does not change under a running one.
    fs::write(image.root.join("etc/intruder"), "").unwrap();
    let (said_tx, said_rx) = std::sync::mpsc::channel::<String>();
    std::thread::scope(|scope| {
        let sanitizing = scope.spawn(|| {
            let said_tx = said_tx;
            stacks.sanitize(name, &mut |line| {
                let _ = said_tx.send(line.to_owned());
            })
        });
        let first = said_rx.recv().expect("the sanitize says something");
        assert_eq!(
            first,
            "waiting for the builds using stack debian-bookworm to end"
        );
        assert!(
            image.root.join("etc/intruder").exists(),
            "nothing changed while the build runs"
        );
        assert!(!sanitizing.is_finished());
        drop(checked);
        let report = sanitizing.join().expect("the sanitize thread").unwrap();
        assert!(report.rebuilt);
    });
    assert!(!image.root.join("etc/intruder").exists());

    // Recreate replaces the image and drops the layers made over the old one.
    fs::create_dir_all(&layer).unwrap();
    let recreated = stacks.recreate(name, None, &mut |_| {}).unwrap();
    assert_eq!(recreated.identity, image.identity);
    assert!(!layer.exists());
    assert!(recreated.root.join("etc/debian_version").exists());

    stacks.rm(name).unwrap();
    assert_eq!(state_of(&stacks, name), StackState::Absent);
    assert!(matches!(
        stacks.image(name),
        Err(StackError::NotCreated { .. })
    ));
}

#[test]
fn host_stack_is_the_hosts_root_and_always_there() {
    let home_dir = tempfile::tempdir().unwrap();
    let stacks = Stacks::load(&Home::new(home_dir.path()), None).unwrap();
    let image = stacks.image("host").unwrap();
    assert_eq!(image.root, PathBuf::from("/"));
    assert_eq!(image.digest, HOST_DIGEST);
    assert_eq!(state_of(&stacks, "host"), StackState::Created);
    let report = stacks.sanitize("host", &mut |_| {}).unwrap();
    assert!(!report.rebuilt);
}

#[test]
fn an_unknown_stack_names_the_known_ones() {
    let home_dir = tempfile::tempdir().unwrap();
    let stacks = Stacks::load(&Home::new(home_dir.path()), None).unwrap();
    let err = stacks.image("debian-sid").unwrap_err().to_string();
    assert!(
        err.contains("debian-bookworm") && err.contains("host"),
        "{err}"
    );
}

#[test]
fn an_uncreated_stack_says_how_to_create_it() {
    let home_dir = tempfile::tempdir().unwrap();
    let stacks = Stacks::load(&Home::new(home_dir.path()), None).unwrap();
    let err = stacks.image("debian-bookworm").unwrap_err().to_string();
    assert!(err.contains("bale stack create debian-bookworm"), "{err}");
}

#[test]
fn the_admins_stacks_toml_in_bale_home_is_read() {
    let home_dir = tempfile::tempdir().unwrap();
    fs::write(
        home_dir.path().join("stacks.toml"),
        "[stacks.debian-bookworm]\nkind = \"debootstrap\"\nsuite = \"bookworm\"\nmirror = \"http://mirror.example/debian/\"\n",
    )
    .unwrap();
    let stacks = Stacks::load(&Home::new(home_dir.path()), None).unwrap();
    assert_eq!(
        stacks.mirror_for("debian-bookworm", None).unwrap(),
        "http://mirror.example/debian"
    );
    assert_eq!(
        stacks
            .mirror_for("debian-bookworm", Some("http://other.example/debian"))
            .unwrap(),
        "http://other.example/debian"
    );
}
