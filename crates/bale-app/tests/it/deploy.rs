//! Deploying real packages: a python3 http.server service, hooks that record
//! themselves, kits with required, provisioned and default variables.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bale_app::{
    deploy, list_apps, rollback, uninstall, AppDirs, DeployError, DeployOptions, Isolation,
    PackageRef, ProxyLaunch, ServiceAction, Wait,
};
use bale_archive::{PackMeta, PackageTree, StackRef};
use bale_home::Home;
use bale_manifest::{Catalog, Manifest, ParseOptions};

const HOOKS: &[&str] = &[
    "post-install",
    "pre-upgrade",
    "post-upgrade",
    "deploy",
    "post-deploy",
    "pre-deinstall",
    "post-deinstall",
];

/// A `$BALE_HOME`, a free port, and a place to build packages; the app's
/// proxy runs on a thread of the test (deploys use [`ProxyLaunch::Caller`]).
struct World {
    dir: tempfile::TempDir,
    home: Home,
    port: u16,
    proxy: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

/// What a package version looks like.
struct Flavour<'a> {
    version: &'a str,
    health_path: &'a str,
    /// An extra command for one hook, e.g. a failing one.
    extra_hook: Option<(&'a str, &'a str)>,
}

impl<'a> Flavour<'a> {
    fn good(version: &'a str) -> Self {
        Flavour {
            version,
            health_path: "/healthz",
            extra_hook: None,
        }
    }
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        // As root the app runs as its own user, who must reach the package
        // and append to the hooks' log.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let log = dir.path().join("hooks.log");
        fs::write(&log, "").unwrap();
        fs::set_permissions(&log, fs::Permissions::from_mode(0o666)).unwrap();
        let home = Home::new(dir.path().join("home"));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let stop = Arc::new(AtomicBool::new(false));
        let app = AppDirs::new(&home, "shop").unwrap();
        let serving = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                bale_app::serve_proxy(&app, &stop).expect("the proxy");
            })
        };
        World {
            dir,
            home,
            port,
            proxy: Some((stop, serving)),
        }
    }

    fn hook_log(&self) -> PathBuf {
        self.dir.path().join("hooks.log")
    }

    /// Packs a package `org.example:web:<version>` and returns the file.
    fn package(&self, flavour: &Flavour) -> PathBuf {
        let version = flavour.version;
        let root = self.dir.path().join("trees").join(version);
        fs::create_dir_all(root.join("app")).unwrap();
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("app/healthz"), "ok\n").unwrap();
        fs::write(root.join("app/version"), format!("{version}\n")).unwrap();
        fs::write(
            root.join("bin/greet"),
            "#!/bin/sh\necho \"$GREETING from $BALE_APP:\" \"$@\"\n",
        )
        .unwrap();
        fs::set_permissions(root.join("bin/greet"), fs::Permissions::from_mode(0o755)).unwrap();
        let mut hooks = String::from("[hooks]\n");
        for hook in HOOKS {
            let mut commands = vec![format!(
                "echo \"{hook} $BALE_COORDINATE old=${{BALE_OLD_VERSION:-}} new=${{BALE_NEW_VERSION:-}}\" >> \"$HOOK_LOG\""
            )];
            if *hook == "post-install" {
                commands.push("echo created-by-post-install > \"$BALE_RUN/data\"".into());
            }
            if let Some((name, command)) = flavour.extra_hook {
                if name == *hook {
                    commands.push(command.to_owned());
                }
            }
            let list: Vec<String> = commands.iter().map(|c| toml_string(c)).collect();
            hooks.push_str(&format!("{hook} = [{}]\n", list.join(", ")));
        }
        let text = format!(
            r#"[package]
group = "org.example"
name = "web"
version = "{version}"

[stack]
name = "host"

{hooks}
[run]
workdir = "app"
[run.services]
web = "exec python3 -m http.server --bind 127.0.0.1 $PORT"
[run.commands]
greet = "greet"

[kits.web]
ports = [{{ name = "http", port = {port} }}]
health = {{ http = "{health}", timeout = "5s" }}
[kits.web.variables]
SECRET_KEY = {{ provision = "secret" }}
HOOK_LOG = {{ required = true, description = "where hooks write" }}
GREETING = {{ default = "hello" }}
"#,
            port = self.port,
            health = flavour.health_path,
        );
        let manifest = Manifest::parse(
            "bale.toml",
            &text,
            &Catalog::default(),
            &ParseOptions::default(),
        )
        .unwrap_or_else(|d| panic!("{d}"));
        let out = self.dir.path().join(format!("web-{version}.bale"));
        let meta = PackMeta {
            arch: None,
            coordinate: manifest.coordinate().unwrap(),
            stack: StackRef {
                name: "host".into(),
                digest: String::new(),
            },
            dependencies: Default::default(),
            source: Default::default(),
            mtime: 0,
        };
        PackageTree::scan(&root)
            .unwrap()
            .write(
                &meta,
                manifest.to_toml().as_bytes(),
                File::create(&out).unwrap(),
            )
            .unwrap();
        out
    }

    fn options(&self) -> DeployOptions {
        let mut env = BTreeMap::new();
        env.insert("HOOK_LOG".to_owned(), self.hook_log().display().to_string());
        DeployOptions {
            env,
            allow_unsigned: true,
            proxy: ProxyLaunch::Caller,
            ..DeployOptions::default()
        }
    }

    fn deploy(&self, package: &Path) -> Result<bale_app::Deployed, DeployError> {
        deploy(
            &self.home,
            "shop",
            &PackageRef::File(package.to_owned()),
            &self.options(),
            &|_, _| {},
        )
    }

    fn app(&self) -> AppDirs {
        AppDirs::new(&self.home, "shop").unwrap()
    }

    /// The body of GET /version from the running service.
    fn version(&self) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.write_all(b"GET /version HTTP/1.0\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or("")
            .trim()
            .to_owned()
    }

    pub(crate) fn hooks_run(&self) -> Vec<String> {
        fs::read_to_string(self.hook_log())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn current_coordinate(&self) -> Option<String> {
        bale_app::app_status(&self.app())
            .unwrap()
            .current
            .map(|c| c.coordinate)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let app = self.app();
        if app.exists() {
            let _ = bale_app::control(
                &self.home,
                "shop",
                ServiceAction::Stop,
                None,
                Isolation::None,
                &|_, _| {},
            );
        }
        if let Some((stop, serving)) = self.proxy.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = serving.join();
        }
    }
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn a_first_deploy_installs_runs_its_hooks_and_the_service_answers() {
    let world = World::new();
    let v1 = world.package(&Flavour::good("1.0.0"));
    let deployed = world.deploy(&v1).unwrap();

    assert_eq!(deployed.services, ["web"]);
    assert_eq!(world.version(), "1.0.0");
    assert_eq!(
        world.hooks_run(),
        [
            "post-install org.example:web:1.0.0 old= new=",
            "deploy org.example:web:1.0.0 old= new=",
            "post-deploy org.example:web:1.0.0 old= new=",
        ]
    );
    let app = world.app();
    let current = fs::read_link(app.current_link()).unwrap();
    assert_eq!(
        current,
        Path::new("deployments").join(&deployed.deployment.name)
    );
    let by_id = app.by_id().join(&deployed.deployment.id);
    assert_eq!(
        fs::canonicalize(by_id).unwrap(),
        fs::canonicalize(app.root().join(&current)).unwrap()
    );
    assert!(world
        .home
        .package_dir(&deployed.deployment.coordinate)
        .join(".bale/index.json")
        .is_file());
}

#[test]
fn every_hook_runs_in_its_place_over_install_upgrade_and_uninstall() {
    let world = World::new();
    world
        .deploy(&world.package(&Flavour::good("1.0.0")))
        .unwrap();
    world
        .deploy(&world.package(&Flavour::good("2.0.0")))
        .unwrap();
    uninstall(&world.home, "shop", Wait::No, Isolation::None, &|_, _| {}).unwrap();

    assert_eq!(
        world.hooks_run(),
        [
            "post-install org.example:web:1.0.0 old= new=",
            "deploy org.example:web:1.0.0 old= new=",
            "post-deploy org.example:web:1.0.0 old= new=",
            "pre-upgrade org.example:web:2.0.0 old=1.0.0 new=2.0.0",
            "post-upgrade org.example:web:2.0.0 old=1.0.0 new=2.0.0",
            "deploy org.example:web:2.0.0 old=1.0.0 new=2.0.0",
            "post-deploy org.example:web:2.0.0 old=1.0.0 new=2.0.0",
            "pre-deinstall org.example:web:2.0.0 old= new=",
            "post-deinstall org.example:web:2.0.0 old= new=",
        ]
    );
    assert!(!world.app().exists());
    assert!(
        TcpStream::connect(("127.0.0.1", world.port)).is_err(),
        "the service still answers"
    );
    assert!(list_apps(&world.home).unwrap().is_empty());
}

#[test]
fn an_upgrade_keeps_the_runtime_data_and_the_provisioned_secret() {
    let world = World::new();
    let first = world
        .deploy(&world.package(&Flavour::good("1.0.0")))
        .unwrap();
    let second = world
        .deploy(&world.package(&Flavour::good("2.0.0")))
        .unwrap();

    assert_eq!(world.version(), "2.0.0");
    let data = fs::read_to_string(world.app().run_dir().join("data")).unwrap();
    assert_eq!(data.trim(), "created-by-post-install");
    let secret = &first.deployment.variables["SECRET_KEY"];
    assert_eq!(secret.len(), 64);
    assert_eq!(&second.deployment.variables["SECRET_KEY"], secret);
    assert_eq!(second.deployment.variables["GREETING"], "hello");
    let env = world.app().env_file();
    assert_eq!(
        fs::metadata(&env).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let kept = bale_app::read_env(&env).unwrap();
    assert_eq!(&kept["SECRET_KEY"], secret);
    assert!(
        !kept.contains_key("GREETING"),
        "defaults are not kept: {kept:?}"
    );
    assert_eq!(second.previous.unwrap().id, first.deployment.id);
}

#[test]
fn a_failing_health_check_rolls_back_and_the_old_version_answers() {
    let world = World::new();
    world
        .deploy(&world.package(&Flavour::good("1.0.0")))
        .unwrap();
    world
        .deploy(&world.package(&Flavour::good("2.0.0")))
        .unwrap();
    let before = fs::read_link(world.app().current_link()).unwrap();
    let v3 = world.package(&Flavour {
        version: "3.0.0",
        health_path: "/missing",
        extra_hook: None,
    });

    let error = world.deploy(&v3).unwrap_err();

    let DeployError::RolledBack { cause, restored } = &error else {
        panic!("{error}")
    };
    assert!(matches!(**cause, DeployError::Unhealthy { .. }), "{cause}");
    assert!(restored.contains("org.example:web:2.0.0"), "{restored}");
    assert!(error.to_string().contains("/missing"), "{error}");
    assert_eq!(fs::read_link(world.app().current_link()).unwrap(), before);
    assert_eq!(world.version(), "2.0.0");
    let names: Vec<String> = bale_app::app_status(&world.app())
        .unwrap()
        .deployments
        .into_iter()
        .map(|d| d.coordinate)
        .collect();
    assert_eq!(names, ["org.example:web:1.0.0", "org.example:web:2.0.0"]);
}

#[test]
fn a_failing_hook_rolls_back_and_shows_its_output() {
    let world = World::new();
    world
        .deploy(&world.package(&Flavour::good("1.0.0")))
        .unwrap();
    let broken = Flavour {
        version: "2.0.0",
        health_path: "/healthz",
        extra_hook: Some(("post-upgrade", "echo migration exploded >&2; exit 3")),
    };

    let error = world.deploy(&world.package(&broken)).unwrap_err();

    let text = error.to_string();
    assert!(text.contains("post-upgrade hook failed"), "{text}");
    assert!(text.contains("migration exploded"), "{text}");
    assert!(text.contains("rolled back"), "{text}");
    assert_eq!(
        world.current_coordinate().as_deref(),
        Some("org.example:web:1.0.0")
    );
    assert_eq!(world.version(), "1.0.0");
}

#[test]
fn a_failing_pre_upgrade_hook_leaves_the_old_version_running_untouched() {
    let world = World::new();
    world
        .deploy(&world.package(&Flavour::good("1.0.0")))
        .unwrap();
    let pid_before = bale_app::app_status(&world.app()).unwrap().services[0].pid;
    let broken = Flavour {
        version: "2.0.0",
        health_path: "/healthz",
        extra_hook: Some(("pre-upgrade", "false")),
    };

    let error = world.deploy(&world.package(&broken)).unwrap_err();

    assert!(
        error.to_string().contains("pre-upgrade hook failed"),
        "{error}"
    );
    let status = bale_app::app_status(&world.app()).unwrap();
    assert_eq!(
        status.services[0].pid, pid_before,
        "the old service was restarted"
    );
    assert_eq!(status.deployments.len(), 1);
    assert_eq!(world.version(), "1.0.0");
}

#[test]
fn a_missing_required_variable_stops_the_deploy_before_anything_changes() {
    let world = World::new();
    let v1 = world.package(&Flavour::good("1.0.0"));
    let no_env = DeployOptions {
        allow_unsigned: true,
        proxy: ProxyLaunch::Caller,
        ..DeployOptions::default()
    };

    let error = deploy(
        &world.home,
        "shop",
        &PackageRef::File(v1.clone()),
        &no_env,
        &|_, _| {},
    )
    .unwrap_err();

    let DeployError::MissingVariables { names, .. } = &error else {
        panic!("{error}")
    };
    assert_eq!(names, &["HOOK_LOG (where hooks write)"]);
    assert!(error.to_string().contains("--env"), "{error}");
    assert!(
        !world.app().exists(),
        "a first deploy that failed left the app directory"
    );
    assert!(world.hooks_run().is_empty());

    // On an existing app, nothing changes either.
    world.deploy(&v1).unwrap();
    fs::remove_file(world.app().env_file()).unwrap();
    let env_before = fs::read_dir(world.app().root()).unwrap().count();
    let error = deploy(
        &world.home,
        "shop",
        &PackageRef::File(v1),
        &no_env,
        &|_, _| {},
    )
    .unwrap_err();
    assert!(
        matches!(error, DeployError::MissingVariables { .. }),
        "{error}"
    );
    assert_eq!(
        fs::read_dir(world.app().root()).unwrap().count(),
        env_before
    );
    assert_eq!(
        bale_app::app_status(&world.app())
            .unwrap()
            .deployments
            .len(),
        1
    );
}

#[test]
fn given_variables_are_kept_for_the_next_deploy() {
    let world = World::new();
    world
        .deploy(&world.package(&Flavour::good("1.0.0")))
        .unwrap();
    let no_env = DeployOptions {
        allow_unsigned: true,
        proxy: ProxyLaunch::Caller,
        ..DeployOptions::default()
    };
    let v2 = world.package(&Flavour::good("2.0.0"));

    let deployed = deploy(
        &world.home,
        "shop",
        &PackageRef::File(v2),
        &no_env,
        &|_, _| {},
    )
    .unwrap();

    assert_eq!(
        deployed.deployment.variables["HOOK_LOG"],
        world.hook_log().display().to_string()
    );
}

#[test]
fn rollback_by_hand_returns_to_the_previous_version_or_to_an_id() {
    let world = World::new();
    let first = world
        .deploy(&world.package(&Flavour::good("1.0.0")))
        .unwrap();
    world
        .deploy(&world.package(&Flavour::good("2.0.0")))
        .unwrap();

    let back = rollback(
        &world.home,
        "shop",
        None,
        Wait::No,
        Isolation::None,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(back.to.id, first.deployment.id);
    assert_eq!(world.version(), "1.0.0");

    let third = world
        .deploy(&world.package(&Flavour::good("3.0.0")))
        .unwrap();
    assert_eq!(world.version(), "3.0.0");
    let short = &first.deployment.id[..12];
    rollback(
        &world.home,
        "shop",
        Some(short),
        Wait::No,
        Isolation::None,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(world.version(), "1.0.0");
    assert_ne!(third.deployment.id, first.deployment.id);

    let error = rollback(
        &world.home,
        "shop",
        Some("ffff"),
        Wait::No,
        Isolation::None,
        &|_, _| {},
    )
    .unwrap_err();
    assert!(
        matches!(error, DeployError::UnknownDeployment { .. }),
        "{error}"
    );
}

#[test]
fn keep_removes_old_deployments_but_never_current_or_the_one_before() {
    let world = World::new();
    for version in ["1.0.0", "2.0.0", "3.0.0"] {
        world
            .deploy(&world.package(&Flavour::good(version)))
            .unwrap();
    }
    let options = DeployOptions {
        keep: 1,
        ..world.options()
    };
    let v4 = world.package(&Flavour::good("4.0.0"));

    let deployed = deploy(
        &world.home,
        "shop",
        &PackageRef::File(v4),
        &options,
        &|_, _| {},
    )
    .unwrap();

    let left: Vec<String> = bale_app::app_status(&world.app())
        .unwrap()
        .deployments
        .into_iter()
        .map(|d| d.coordinate)
        .collect();
    // 4.0.0 is current; 3.0.0 comes before it; 1.0.0 and 2.0.0 go.
    assert_eq!(left, ["org.example:web:3.0.0", "org.example:web:4.0.0"]);
    assert_eq!(deployed.removed.len(), 2);
    let links = fs::read_dir(world.app().by_id()).unwrap().count();
    assert_eq!(links, 2, "id links of removed deployments remain");
}

#[test]
fn a_second_deploy_fails_naming_the_holder_of_the_lock_or_waits_for_it() {
    let world = World::new();
    let v1 = world.package(&Flavour::good("1.0.0"));
    let app = world.app();
    fs::create_dir_all(app.root()).unwrap();
    let lock = app.lock_file();
    let mut holder = hold_lock(&lock, "30");

    let error = world.deploy(&v1).unwrap_err();
    let DeployError::Locked { holder: who, .. } = &error else {
        panic!("{error}")
    };
    assert!(who.contains("deploy by the other process"), "{who}");
    assert!(error.to_string().contains("--wait"), "{error}");
    holder.kill().unwrap();
    holder.wait().unwrap();

    let mut short_holder = hold_lock(&lock, "1");
    let options = DeployOptions {
        wait: Wait::Yes,
        ..world.options()
    };
    deploy(
        &world.home,
        "shop",
        &PackageRef::File(v1),
        &options,
        &|_, _| {},
    )
    .unwrap();
    assert!(
        short_holder.try_wait().unwrap().is_some(),
        "the deploy did not wait for the holder"
    );
    assert_eq!(world.version(), "1.0.0");
}

/// Another process holding the app's lock for `seconds`, having written who it is.
fn hold_lock(lock: &Path, seconds: &str) -> Child {
    let ready = lock.with_file_name("holder-ready");
    let _ = fs::remove_file(&ready);
    let child = Command::new("flock")
        .arg("-x")
        .arg(lock)
        .arg("sh")
        .arg("-c")
        .arg("echo \"pid $$: deploy by the other process\" > \"$1\"; touch \"$2\"; exec sleep \"$3\"")
        .arg("sh")
        .arg(lock)
        .arg(&ready)
        .arg(seconds)
        .spawn()
        .unwrap();
    while !ready.exists() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child
}

#[test]
fn services_stop_start_and_commands_run_with_the_apps_environment() {
    let world = World::new();
    world
        .deploy(&world.package(&Flavour::good("1.0.0")))
        .unwrap();

    bale_app::control(
        &world.home,
        "shop",
        ServiceAction::Stop,
        Some("web"),
        Isolation::None,
        &|_, _| {},
    )
    .unwrap();
    let status = bale_app::app_status(&world.app()).unwrap();
    assert_eq!(status.services[0].state, "stopped");
    // The public port stays bale's; the service's own port is closed.
    let routes = bale_app::current_routes(&world.app())
        .unwrap()
        .expect("routes");
    let private = routes
        .private(world.port)
        .expect("the kit's port is proxied");
    assert!(TcpStream::connect(("127.0.0.1", private)).is_err());

    bale_app::control(
        &world.home,
        "shop",
        ServiceAction::Start,
        None,
        Isolation::None,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(world.version(), "1.0.0");
    assert_eq!(
        bale_app::app_status(&world.app()).unwrap().services[0].state,
        "running"
    );

    let output = bale_app::command(
        &world.home,
        "shop",
        "greet",
        &["two words".into()],
        Isolation::None,
    )
    .unwrap()
    .output()
    .unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "hello from shop: two words"
    );

    let error = bale_app::command(&world.home, "shop", "nope", &[], Isolation::None).unwrap_err();
    assert!(error.to_string().contains("greet"), "{error}");
    let error = bale_app::control(
        &world.home,
        "shop",
        ServiceAction::Stop,
        Some("db"),
        Isolation::None,
        &|_, _| {},
    )
    .unwrap_err();
    assert!(error.to_string().contains("web"), "{error}");
}

#[test]
fn a_crashed_service_shows_as_stopped_and_its_log_is_kept() {
    let world = World::new();
    world
        .deploy(&world.package(&Flavour::good("1.0.0")))
        .unwrap();
    let pid = bale_app::app_status(&world.app()).unwrap().services[0]
        .pid
        .unwrap();

    let killed = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(killed.success());
    while bale_app::app_status(&world.app()).unwrap().services[0].state != "stopped" {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let logs = bale_app::log_files(&world.home, "shop", None).unwrap();
    assert_eq!(logs.len(), 1);
    let log = fs::read_to_string(&logs[0].1).unwrap();
    assert!(log.contains("GET /healthz"), "{log}");
}
