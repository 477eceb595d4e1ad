//! The package store, with real archives written by bale-archive and signed by bale-sign.

use std::fs::{self, File};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use bale_archive::{PackMeta, PackageTree, StackRef};
use bale_coordinate::Coordinate;
use bale_home::Home;
use bale_sign::{default_trusted_comment, KeyPair, Keyring};
use bale_store::{InstallOptions, InstallOutcome, Problem, Store, StoreError};

const HELLO: &str = "org.example:hello:1.0.0";

/// A `$BALE_HOME`, a publisher's key it trusts, and a place to build packages.
struct World {
    dir: tempfile::TempDir,
    home: Home,
    key: KeyPair,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path().join("home"));
        let key = KeyPair::generate().unwrap();
        Keyring::add(&home.trusted_keys_dir(), &key.public, "publisher").unwrap();
        World { dir, home, key }
    }

    fn store(&self) -> Store {
        Store::new(self.home.clone())
    }

    /// A package root with a few files, a symlink and nested directories; `flavour` changes one file.
    fn tree(&self, name: &str, flavour: &str) -> PathBuf {
        let root = self.dir.path().join("trees").join(name);
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::create_dir_all(root.join("app/static/css")).unwrap();
        fs::write(root.join("bin/hello"), "#!/bin/sh\necho hello\n").unwrap();
        fs::set_permissions(root.join("bin/hello"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(
            root.join("etc/hello.conf"),
            format!("greeting = {flavour}\n"),
        )
        .unwrap();
        fs::write(root.join("app/static/css/site.css"), "body { margin: 0 }\n").unwrap();
        // Enough incompressible bytes that a damaged stream fails after entries were written.
        let mut noise = Vec::with_capacity(1 << 20);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while noise.len() < 1 << 20 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.extend_from_slice(&x.to_le_bytes());
        }
        fs::write(root.join("app/zz-data.bin"), noise).unwrap();
        symlink("../etc/hello.conf", root.join("app/hello.conf")).unwrap();
        root
    }

    /// Packs `tree` as `coordinate` into `<name>.bale`, unsigned.
    fn pack(&self, tree: &Path, coordinate: &str, name: &str) -> PathBuf {
        let out = self.dir.path().join(format!("{name}.bale"));
        let meta = PackMeta {
            arch: None,
            coordinate: coordinate.parse().unwrap(),
            stack: StackRef {
                name: "host".into(),
                digest: String::new(),
            },
            dependencies: Default::default(),
            source: Default::default(),
            mtime: 0,
        };
        let manifest = format!("[package]\ncoordinate = \"{coordinate}\"\n");
        PackageTree::scan(tree)
            .unwrap()
            .write(&meta, manifest.as_bytes(), File::create(&out).unwrap())
            .unwrap();
        out
    }

    /// Writes `<archive>.minisig` with `key`.
    fn sign_with(&self, archive: &Path, key: &KeyPair) {
        let comment = default_trusted_comment("hello.bale", 0);
        let signature =
            bale_sign::sign(&key.secret, File::open(archive).unwrap(), &comment).unwrap();
        let mut path = archive.as_os_str().to_owned();
        path.push(".minisig");
        fs::write(path, signature.to_file_string()).unwrap();
    }

    /// A signed package of `tree` under `coordinate`.
    fn signed(&self, tree: &Path, coordinate: &str, name: &str) -> PathBuf {
        let archive = self.pack(tree, coordinate, name);
        self.sign_with(&archive, &self.key);
        archive
    }

    /// Paths left under `$BALE_HOME/tmp`.
    fn leftovers(&self) -> Vec<PathBuf> {
        match fs::read_dir(self.home.tmp_dir()) {
            Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
            Err(_) => vec![],
        }
    }

    /// Every path under `pkgs/`, for "nothing landed" checks.
    fn pkgs_contents(&self) -> Vec<PathBuf> {
        let mut all = vec![];
        let mut stack = vec![self.home.pkgs_dir()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path.clone());
                }
                all.push(path);
            }
        }
        all
    }
}

/// Installed packages are read-only; make them removable so the temporary directory goes away.
impl Drop for World {
    fn drop(&mut self) {
        let mut stack = vec![self.home.root().to_owned()];
        while let Some(dir) = stack.pop() {
            let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(entry.path());
                }
            }
        }
    }
}

fn coordinate(text: &str) -> Coordinate {
    text.parse().unwrap()
}

const SIGNED: InstallOptions = InstallOptions {
    allow_unsigned: false,
};
const UNSIGNED_OK: InstallOptions = InstallOptions {
    allow_unsigned: true,
};

/// Every entry under `dir` with its metadata (not following symlinks).
fn walk(dir: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    let mut out = vec![];
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.extend(walk(&path));
        }
        out.push((path, meta));
    }
    out
}

#[test]
fn a_signed_package_installs_into_its_coordinate_directory() {
    let world = World::new();
    let archive = world.signed(&world.tree("a", "hi"), HELLO, "hello");
    let installed = world.store().install(&archive, &SIGNED).unwrap();
    assert_eq!(installed.outcome, InstallOutcome::Installed);
    assert_eq!(installed.coordinate, coordinate(HELLO));
    assert_eq!(
        installed.dir,
        world.home.root().join("pkgs/org/example/hello/1.0.0")
    );
    assert_eq!(
        fs::read_to_string(installed.dir.join("etc/hello.conf")).unwrap(),
        "greeting = hi\n"
    );
    assert_eq!(
        fs::read_link(installed.dir.join("app/hello.conf")).unwrap(),
        Path::new("../etc/hello.conf")
    );
    assert!(
        installed.dir.join(".bale/index.json").is_file()
            && installed.dir.join(".bale/manifest.toml").is_file()
    );
    assert!(world
        .store()
        .verify(&installed.coordinate)
        .unwrap()
        .is_clean());
    assert_eq!(
        world.leftovers(),
        Vec::<PathBuf>::new(),
        "no scratch directory is left"
    );
}

/// `archive` rewritten with its index.json pretty-printed: the same index,
/// not in canonical form (as another writer may make it).
fn with_pretty_index(archive: &Path, out: &Path) {
    let tar = zstd::decode_all(File::open(archive).unwrap()).unwrap();
    let header = &tar[512..1024];
    assert!(
        header.starts_with(b".bale/index.json\0"),
        "the index is second"
    );
    let size_field = std::str::from_utf8(&header[124..136]).unwrap();
    let size =
        usize::from_str_radix(size_field.trim_matches(|c| c == '\0' || c == ' '), 8).unwrap();
    let index: serde_json::Value = serde_json::from_slice(&tar[1024..1024 + size]).unwrap();
    let pretty = serde_json::to_vec_pretty(&index).unwrap();
    assert_ne!(
        pretty,
        tar[1024..1024 + size],
        "the rewrite changes the bytes"
    );
    let mut h = header.to_vec();
    h[124..136].copy_from_slice(format!("{:011o}\0", pretty.len()).as_bytes());
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut rewritten = tar[..512].to_vec();
    rewritten.extend_from_slice(&h);
    rewritten.extend_from_slice(&pretty);
    rewritten.resize(rewritten.len().div_ceil(512) * 512, 0);
    rewritten.extend_from_slice(&tar[1024 + size.div_ceil(512) * 512..]);
    fs::write(out, zstd::encode_all(&rewritten[..], 3).unwrap()).unwrap();
}

#[test]
fn installing_the_same_package_with_a_non_canonical_index_again_is_a_no_op() {
    let world = World::new();
    let packed = world.pack(&world.tree("a", "hi"), HELLO, "hello");
    let archive = world.dir.path().join("pretty.bale");
    with_pretty_index(&packed, &archive);
    world.sign_with(&archive, &world.key);
    let store = world.store();
    let first = store.install(&archive, &SIGNED).unwrap();
    assert_eq!(first.outcome, InstallOutcome::Installed);
    let second = store.install(&archive, &SIGNED).unwrap();
    assert_eq!(second.outcome, InstallOutcome::AlreadyPresent);
}

#[test]
fn installing_the_same_package_twice_is_a_no_op() {
    let world = World::new();
    let archive = world.signed(&world.tree("a", "hi"), HELLO, "hello");
    let store = world.store();
    let first = store.install(&archive, &SIGNED).unwrap();
    let before: Vec<_> = walk(&first.dir)
        .into_iter()
        .map(|(p, m)| (p, m.ino(), m.mtime(), m.mtime_nsec()))
        .collect();

    let second = store.install(&archive, &SIGNED).unwrap();
    assert_eq!(second.outcome, InstallOutcome::AlreadyPresent);
    assert_eq!(second.dir, first.dir);
    let after: Vec<_> = walk(&first.dir)
        .into_iter()
        .map(|(p, m)| (p, m.ino(), m.mtime(), m.mtime_nsec()))
        .collect();
    assert_eq!(before, after, "nothing in the package was rewritten");
    assert_eq!(world.leftovers(), Vec::<PathBuf>::new());
}

#[test]
fn a_different_package_under_an_installed_coordinate_is_refused_and_the_installed_one_kept() {
    let world = World::new();
    let store = world.store();
    let original = world.signed(&world.tree("a", "hi"), HELLO, "hello");
    let installed = store.install(&original, &SIGNED).unwrap();
    let impostor = world.signed(&world.tree("b", "changed"), HELLO, "impostor");

    let error = store.install(&impostor, &SIGNED).unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(
            "a different package with coordinate org.example:hello:1.0.0 is already installed"
        ),
        "{message}"
    );
    assert!(
        message.contains("one coordinate is one set of bytes"),
        "{message}"
    );
    assert_eq!(
        fs::read_to_string(installed.dir.join("etc/hello.conf")).unwrap(),
        "greeting = hi\n"
    );
    assert!(store.verify(&installed.coordinate).unwrap().is_clean());
    assert_eq!(world.leftovers(), Vec::<PathBuf>::new());
}

#[test]
fn installed_files_and_directories_are_read_only() {
    let world = World::new();
    let archive = world.signed(&world.tree("a", "hi"), HELLO, "hello");
    let installed = world.store().install(&archive, &SIGNED).unwrap();
    let mut entries = walk(&installed.dir);
    entries.push((installed.dir.clone(), fs::metadata(&installed.dir).unwrap()));
    let mut seen_dirs = 0;
    for (path, meta) in &entries {
        if meta.file_type().is_symlink() {
            continue;
        }
        seen_dirs += usize::from(meta.is_dir());
        assert_eq!(
            meta.mode() & 0o222,
            0,
            "{} is writable: {:o}",
            path.display(),
            meta.mode()
        );
    }
    assert!(seen_dirs >= 6, "directories were checked too");
    assert_eq!(
        fs::metadata(installed.dir.join("bin/hello"))
            .unwrap()
            .mode()
            & 0o777,
        0o555,
        "executables stay executable"
    );
}

#[test]
fn verify_names_a_modified_file() {
    let world = World::new();
    let archive = world.signed(&world.tree("a", "hi"), HELLO, "hello");
    let store = world.store();
    let installed = store.install(&archive, &SIGNED).unwrap();
    let conf = installed.dir.join("etc/hello.conf");
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = fs::read(&conf).unwrap();
    bytes[0] ^= 0x20;
    fs::write(&conf, bytes).unwrap();

    let report = store.verify(&installed.coordinate).unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.paths(), vec!["etc/hello.conf"]);
    assert_eq!(
        report.paths_where(|p| matches!(p, Problem::Modified { .. })),
        vec!["etc/hello.conf"]
    );
    assert_eq!(
        report.paths_where(|p| matches!(p, Problem::ModeChanged { .. })),
        vec!["etc/hello.conf"]
    );
}

#[test]
fn verify_names_missing_extra_and_retyped_entries() {
    let world = World::new();
    let archive = world.signed(&world.tree("a", "hi"), HELLO, "hello");
    let store = world.store();
    let installed = store.install(&archive, &SIGNED).unwrap();
    let app = installed.dir.join("app");
    fs::set_permissions(&app, fs::Permissions::from_mode(0o755)).unwrap();
    fs::remove_file(app.join("zz-data.bin")).unwrap();
    fs::write(app.join("planted.sh"), "#!/bin/sh\n").unwrap();
    fs::remove_file(app.join("hello.conf")).unwrap();
    fs::write(app.join("hello.conf"), "not a symlink any more\n").unwrap();
    fs::set_permissions(&app, fs::Permissions::from_mode(0o555)).unwrap();

    let report = store.verify(&installed.coordinate).unwrap();
    assert_eq!(
        report.paths_where(|p| *p == Problem::Missing),
        vec!["app/zz-data.bin"]
    );
    assert_eq!(
        report.paths_where(|p| *p == Problem::Extra),
        vec!["app/planted.sh"]
    );
    assert_eq!(
        report.paths_where(|p| matches!(p, Problem::TypeChanged { .. })),
        vec!["app/hello.conf"]
    );
}

#[test]
fn an_unsigned_package_is_refused_unless_allowed_and_nothing_lands_in_pkgs() {
    let world = World::new();
    let archive = world.pack(&world.tree("a", "hi"), HELLO, "hello");
    let store = world.store();

    let error = store.install(&archive, &SIGNED).unwrap_err();
    assert!(matches!(error, StoreError::Unsigned { .. }), "{error}");
    assert!(error.to_string().contains("--allow-unsigned"), "{error}");
    assert_eq!(world.pkgs_contents(), Vec::<PathBuf>::new());
    assert_eq!(world.leftovers(), Vec::<PathBuf>::new());

    let installed = store.install(&archive, &UNSIGNED_OK).unwrap();
    assert_eq!(installed.outcome, InstallOutcome::Installed);
}

#[test]
fn a_package_signed_by_an_untrusted_key_is_refused_with_how_to_trust_it() {
    let world = World::new();
    let archive = world.pack(&world.tree("a", "hi"), HELLO, "hello");
    world.sign_with(&archive, &KeyPair::generate().unwrap());

    let error = world.store().install(&archive, &SIGNED).unwrap_err();
    assert!(matches!(error, StoreError::Signature { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("bale key trust") && message.contains("--allow-unsigned"),
        "{message}"
    );
    assert_eq!(world.pkgs_contents(), Vec::<PathBuf>::new());
}

#[test]
fn a_package_changed_after_signing_is_refused() {
    let world = World::new();
    let archive = world.signed(&world.tree("a", "hi"), HELLO, "hello");
    let other = world.pack(&world.tree("b", "evil"), HELLO, "other");
    fs::copy(&other, &archive).unwrap();

    let error = world.store().install(&archive, &SIGNED).unwrap_err();
    assert!(matches!(error, StoreError::Signature { .. }), "{error}");
    assert_eq!(world.pkgs_contents(), Vec::<PathBuf>::new());
}

#[test]
fn an_install_that_fails_half_way_leaves_no_package_and_no_scratch_directory() {
    let world = World::new();
    let good = world.pack(&world.tree("a", "hi"), HELLO, "hello");
    let bytes = fs::read(&good).unwrap();
    let mut corrupt_tail = bytes.clone();
    let n = corrupt_tail.len();
    for b in &mut corrupt_tail[n - 16..] {
        *b ^= 0xff;
    }
    let truncated = bytes[..bytes.len() * 2 / 3].to_vec();
    for (what, damaged) in [
        ("corrupt last bytes", corrupt_tail),
        ("truncated", truncated),
    ] {
        let archive = world.dir.path().join("damaged.bale");
        fs::write(&archive, damaged).unwrap();
        let error = world.store().install(&archive, &UNSIGNED_OK).unwrap_err();
        assert!(
            matches!(error, StoreError::Archive { .. }),
            "{what}: {error}"
        );
        assert!(
            !world.home.package_dir(&coordinate(HELLO)).exists(),
            "{what}: no package directory"
        );
        assert_eq!(
            world.leftovers(),
            Vec::<PathBuf>::new(),
            "{what}: no scratch directory"
        );
    }
    // The store is unharmed: the good package still installs.
    assert_eq!(
        world.store().install(&good, &UNSIGNED_OK).unwrap().outcome,
        InstallOutcome::Installed
    );
}

#[test]
fn concurrent_installs_of_one_package_install_it_once() {
    let world = World::new();
    let archive = world.signed(&world.tree("a", "hi"), HELLO, "hello");
    let outcomes: Vec<InstallOutcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| world.store().install(&archive, &SIGNED).unwrap().outcome))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == InstallOutcome::Installed)
            .count(),
        1,
        "{outcomes:?}"
    );
    assert!(world.store().verify(&coordinate(HELLO)).unwrap().is_clean());
    assert_eq!(world.leftovers(), Vec::<PathBuf>::new());
}

#[test]
fn list_shows_installed_packages_and_remove_takes_one_away_whole() {
    let world = World::new();
    let store = world.store();
    let tree = world.tree("a", "hi");
    for (c, name) in [
        (HELLO, "hello"),
        ("org.example:hello:2.0.0", "hello2"),
        ("net.other.team:tool:0.1", "tool"),
    ] {
        store
            .install(&world.signed(&tree, c, name), &SIGNED)
            .unwrap();
    }
    assert_eq!(
        store.list().unwrap(),
        vec![
            coordinate("net.other.team:tool:0.1"),
            coordinate(HELLO),
            coordinate("org.example:hello:2.0.0")
        ]
    );

    store.remove(&coordinate(HELLO)).unwrap();
    assert!(!world.home.package_dir(&coordinate(HELLO)).exists());
    assert_eq!(
        store.list().unwrap(),
        vec![
            coordinate("net.other.team:tool:0.1"),
            coordinate("org.example:hello:2.0.0")
        ]
    );
    assert_eq!(world.leftovers(), Vec::<PathBuf>::new());
    assert!(matches!(
        store.remove(&coordinate(HELLO)),
        Err(StoreError::NotInstalled { .. })
    ));
    assert!(matches!(
        store.verify(&coordinate(HELLO)),
        Err(StoreError::NotInstalled { .. })
    ));
}

#[test]
fn a_package_whose_directory_would_lie_inside_another_package_is_refused() {
    let world = World::new();
    let store = world.store();
    let tree = world.tree("a", "hi");
    store
        .install(&world.signed(&tree, "a:b:1", "outer"), &SIGNED)
        .unwrap();

    let error = store
        .install(&world.signed(&tree, "a.b.1:x:2", "inner"), &SIGNED)
        .unwrap_err();
    assert!(matches!(error, StoreError::Nested { .. }), "{error}");
    assert!(
        store.verify(&coordinate("a:b:1")).unwrap().is_clean(),
        "the outer package is untouched"
    );
    assert_eq!(store.list().unwrap(), vec![coordinate("a:b:1")]);
}

#[test]
fn an_empty_store_lists_nothing() {
    let world = World::new();
    assert_eq!(world.store().list().unwrap(), Vec::<Coordinate>::new());
}
