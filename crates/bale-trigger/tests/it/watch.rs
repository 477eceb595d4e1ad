//! Watching a real bare repository with the git CLI: each new or moved
//! version ref is offered once, other refs are refused with the reason.

use bale_testkit::git;
use bale_trigger::{RefKind, Watch};

/// A bare repository and a clone to push from, with one commit on branch `hello-1.2.0`.
struct Remote {
    _tmp: tempfile::TempDir,
    bare: String,
    work: std::path::PathBuf,
    state: std::path::PathBuf,
}

fn remote() -> Remote {
    let tmp = tempfile::tempdir().unwrap();
    let bare = tmp.path().join("hello.git");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(
        tmp.path(),
        &["init", "-q", "--bare", bare.to_str().unwrap()],
    );
    git(&work, &["init", "-q", "-b", "hello-1.2.0"]);
    std::fs::write(
        work.join("bale.toml"),
        "[package]\nname = \"hello\"\nversion = \"1.2.0\"\n",
    )
    .unwrap();
    git(&work, &["add", "bale.toml"]);
    git(&work, &["commit", "-q", "-m", "hello 1.2.0"]);
    git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
    let state = tmp.path().join("state");
    Remote {
        bare: bare.to_str().unwrap().to_owned(),
        work,
        state,
        _tmp: tmp,
    }
}

#[test]
fn each_pushed_version_ref_is_offered_once_and_other_branches_are_refused() {
    let r = remote();
    git(&r.work, &["push", "-q", "origin", "hello-1.2.0"]);
    let head = git(&r.work, &["rev-parse", "HEAD"]);
    let watch = Watch::new(r.bare.clone(), &r.state);

    let first = watch.poll().unwrap();
    assert_eq!(first.refused, vec![]);
    assert_eq!(first.triggers.len(), 1, "{first:?}");
    let build = &first.triggers[0];
    assert_eq!(build.source, r.bare);
    assert_eq!(
        (build.git_ref.as_str(), build.kind),
        ("hello-1.2.0", RefKind::Branch)
    );
    assert_eq!(
        (build.name.as_deref(), build.version.as_str()),
        (Some("hello"), "1.2.0")
    );
    assert_eq!(build.commit, head);

    let again = watch.poll().unwrap();
    assert!(
        again.triggers.is_empty() && again.refused.is_empty(),
        "{again:?}"
    );

    // An annotated tag is built at its commit, not at the tag object.
    git(&r.work, &["tag", "-a", "-m", "1.3.0", "v1.3.0"]);
    git(&r.work, &["push", "-q", "origin", "v1.3.0"]);
    let tagged = watch.poll().unwrap();
    assert_eq!(tagged.triggers.len(), 1, "{tagged:?}");
    assert_eq!(
        (tagged.triggers[0].git_ref.as_str(), tagged.triggers[0].kind),
        ("v1.3.0", RefKind::Tag)
    );
    assert_eq!(tagged.triggers[0].version, "1.3.0");
    assert_eq!(tagged.triggers[0].commit, head);

    git(&r.work, &["checkout", "-q", "-b", "feature-x"]);
    git(&r.work, &["push", "-q", "origin", "feature-x"]);
    let feature = watch.poll().unwrap();
    assert!(feature.triggers.is_empty(), "{feature:?}");
    assert_eq!(feature.refused.len(), 1);
    assert_eq!(feature.refused[0].full_ref, "refs/heads/feature-x");
    assert!(
        feature.refused[0]
            .reason
            .contains("branch `feature-x` does not name a version"),
        "{:?}",
        feature.refused
    );
    assert!(feature.refused[0].reason.contains("`<name>-<version>`"));
    // A refusal is reported once, not at every poll.
    assert_eq!(watch.poll().unwrap(), Default::default());
}

#[test]
fn a_version_branch_that_moves_is_offered_again_at_its_new_commit() {
    let r = remote();
    git(&r.work, &["push", "-q", "origin", "hello-1.2.0"]);
    let watch = Watch::new(r.bare.clone(), &r.state);
    assert_eq!(watch.poll().unwrap().triggers.len(), 1);
    std::fs::write(r.work.join("README"), "fixed\n").unwrap();
    git(&r.work, &["add", "README"]);
    git(&r.work, &["commit", "-q", "-m", "fix"]);
    git(&r.work, &["push", "-q", "origin", "hello-1.2.0"]);
    let moved = watch.poll().unwrap();
    assert_eq!(moved.triggers.len(), 1);
    assert_eq!(
        moved.triggers[0].commit,
        git(&r.work, &["rev-parse", "HEAD"])
    );
}

#[test]
fn a_forgotten_trigger_is_offered_again_by_the_next_poll() {
    let r = remote();
    git(&r.work, &["push", "-q", "origin", "hello-1.2.0"]);
    let watch = Watch::new(r.bare.clone(), &r.state);
    let first = watch.poll().unwrap();
    watch.forget(&first.triggers[0].full_ref()).unwrap();
    assert_eq!(watch.poll().unwrap().triggers, first.triggers);
}

#[test]
fn a_remote_git_cannot_reach_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.git");
    let err = Watch::new(missing.to_str().unwrap(), tmp.path())
        .poll()
        .unwrap_err();
    assert!(err.to_string().contains("missing.git"), "{err}");
}
