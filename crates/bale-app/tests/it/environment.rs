//! One environment for services, hooks and commands (docs/runtime.md, "The
//! environment of an app"), and the app's own user they all run as.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bale_app::{deploy, AppDirs, DeployOptions, Isolation, PackageRef, ProxyLaunch, ServiceAction};
use bale_archive::{PackMeta, PackageTree, StackRef};
use bale_home::Home;
use bale_manifest::{Catalog, Manifest, ParseOptions};

const APP: &str = "envprobe";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `$BALE_HOME` with an app of two kits: `web` (main, ports `http` and
/// `admin-ui`) and `side` (port `metrics`); every process records its environment.
struct Probe {
    dir: tempfile::TempDir,
    home: Home,
    http: u16,
    admin: u16,
    metrics: u16,
    /// The app's proxy, on a thread of the test (deploys use [`ProxyLaunch::Caller`]).
    proxy: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
}

impl Probe {
    fn new() -> Probe {
        let dir = tempfile::tempdir().unwrap();
        // As root the app's user must reach the installed package.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let home = Home::new(dir.path().join("home"));
        let stop = Arc::new(AtomicBool::new(false));
        let app = AppDirs::new(&home, APP).unwrap();
        let serving = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                bale_app::serve_proxy(&app, &stop).expect("the proxy");
            })
        };
        Probe {
            dir,
            home,
            http: free_port(),
            admin: free_port(),
            metrics: free_port(),
            proxy: Some((stop, serving)),
        }
    }

    fn package(&self, version: &str) -> PathBuf {
        let root = self.dir.path().join("trees").join(version);
        fs::create_dir_all(root.join("app")).unwrap();
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("app/version"), format!("{version}\n")).unwrap();
        let text = format!(
            r#"[package]
group = "org.example"
name = "envprobe"
version = "{version}"

[stack]
name = "host"

[hooks]
pre-upgrade = ["env > \"$BALE_RUN/pre-upgrade.env\""]
post-deploy = ["env > \"$BALE_RUN/post-deploy.env\"; pwd > \"$BALE_RUN/post-deploy.pwd\""]

[run]
workdir = "app"
limits = {{ memory = "256M", tasks = 128 }}
[run.services]
web = "env > \"$BALE_RUN/web.env\"; id -u > \"$BALE_RUN/web.uid\"; exec python3 -m http.server --bind 127.0.0.1 $PORT"
side = "env > \"$BALE_RUN/side.env\"; exec sleep 100000"
[run.commands]
cli = "python3 -c 'import os, urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:%s/version\" % os.environ[\"PORT\"]).read().decode().strip())'"
env = "env"
uid = "id -u"

[kits.web]
main = true
ports = [{{ name = "http", port = {http} }}, {{ name = "admin-ui", port = {admin} }}]
health = {{ http = "/version", timeout = "10s" }}
[kits.web.variables]
GREETING = {{ default = "hello" }}

[kits.side]
services = ["side"]
ports = [{{ name = "metrics", port = {metrics} }}]
"#,
            http = self.http,
            admin = self.admin,
            metrics = self.metrics,
        );
        let manifest = Manifest::parse(
            "bale.toml",
            &text,
            &Catalog::default(),
            &ParseOptions::default(),
        )
        .unwrap_or_else(|d| panic!("{d}"));
        let out = self.dir.path().join(format!("envprobe-{version}.bale"));
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

    fn deploy(&self, version: &str) {
        deploy(
            &self.home,
            APP,
            &PackageRef::File(self.package(version)),
            &DeployOptions {
                allow_unsigned: true,
                proxy: ProxyLaunch::Caller,
                ..DeployOptions::default()
            },
            &|_, _| {},
        )
        .unwrap_or_else(|e| panic!("{}", bale_api::error::with_causes(&e)));
    }

    fn run_dir(&self) -> PathBuf {
        self.home.app_dir(APP).join("run")
    }

    /// A `[run.commands]` entry's standard output.
    fn command(&self, name: &str) -> String {
        let out = bale_app::command(&self.home, APP, name, &[], Isolation::None)
            .unwrap()
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The environment a process wrote with `env` into `run/<file>`.
    fn recorded(&self, file: &str) -> BTreeMap<String, String> {
        parse_env(&fs::read_to_string(self.run_dir().join(file)).unwrap())
    }

    /// Waits until the services wrote their environments.
    fn wait_for(&self, file: &str) {
        let path = self.run_dir().join(file);
        for _ in 0..500 {
            if fs::metadata(&path).is_ok_and(|m| m.len() > 0) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("{} never appeared", path.display());
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = bale_app::control(
            &self.home,
            APP,
            ServiceAction::Stop,
            None,
            Isolation::None,
            &|_, _| {},
        );
        if let Some((stop, serving)) = self.proxy.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = serving.join();
        }
    }
}

fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The uid of user `name`, from the system's user database.
fn uid_of(name: &str) -> u32 {
    let out = std::process::Command::new("getent")
        .args(["passwd", name])
        .output()
        .unwrap();
    assert!(out.status.success(), "no user {name}");
    String::from_utf8_lossy(&out.stdout)
        .split(':')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_command_reaches_the_running_service_through_port() {
    let probe = Probe::new();
    probe.deploy("1.0.0");
    assert_eq!(probe.command("cli"), "1.0.0");
}

#[test]
fn services_hooks_and_commands_see_one_environment() {
    let probe = Probe::new();
    probe.deploy("1.0.0");
    probe.wait_for("side.env");
    let web = probe.recorded("web.env");
    let side = probe.recorded("side.env");
    let hook = probe.recorded("post-deploy.env");
    let command = parse_env(&probe.command("env"));
    let prefix = probe
        .home
        .package_dir(&"org.example:envprobe:1.0.0".parse().unwrap());
    let (http, admin, metrics) = (
        probe.http.to_string(),
        probe.admin.to_string(),
        probe.metrics.to_string(),
    );

    // PORT: the private port bale's proxy forwards the service's kit's
    // first port to; for hooks and commands, the main kit's public port.
    let routes = bale_app::current_routes(&AppDirs::new(&probe.home, APP).unwrap()).unwrap();
    let private = |public: u16| bale_app::service_port(routes.as_ref(), public).to_string();
    assert_ne!(web["PORT"], http, "the proxy owns the public port");
    assert_eq!(web["PORT"], private(probe.http));
    assert_eq!(side["PORT"], private(probe.metrics));
    assert_eq!(hook["PORT"], http);
    assert_eq!(command["PORT"], http);
    assert_eq!(hook["BALE_HOOK"], "post-deploy");
    for env in [&web, &side, &hook, &command] {
        assert_eq!(env["PORT_HTTP"], http);
        assert_eq!(env["PORT_ADMIN_UI"], admin);
        assert_eq!(env["PORT_METRICS"], metrics);
        assert_eq!(env["BALE_APP"], APP);
        assert_eq!(env["BALE_COORDINATE"], "org.example:envprobe:1.0.0");
        assert_eq!(Path::new(&env["BALE_PREFIX"]), prefix);
        assert_eq!(Path::new(&env["BALE_RUN"]), probe.run_dir());
        assert_eq!(env["GREETING"], "hello");
        assert!(
            env["PATH"].starts_with(&format!("{}/bin:", prefix.display())),
            "{}",
            env["PATH"]
        );
    }
    let pwd = fs::read_to_string(probe.run_dir().join("post-deploy.pwd")).unwrap();
    assert_eq!(Path::new(pwd.trim()), prefix.join("app"));

    // An upgrade's hooks also get both versions.
    probe.deploy("1.0.1");
    let upgrade = probe.recorded("pre-upgrade.env");
    assert_eq!(upgrade["BALE_OLD_VERSION"], "1.0.0");
    assert_eq!(upgrade["BALE_NEW_VERSION"], "1.0.1");
    assert_eq!(upgrade["PORT"], http);
    assert_eq!(upgrade["PORT_METRICS"], metrics);
}

#[test]
fn services_hooks_and_commands_run_as_the_apps_own_user_who_owns_run() {
    let probe = Probe::new();
    // Data kept from when the app ran as bale's user, and a link out of run/.
    fs::create_dir_all(probe.run_dir().join("old")).unwrap();
    fs::write(probe.run_dir().join("old/data"), "kept").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", probe.run_dir().join("old/link")).unwrap();
    probe.deploy("1.0.0");
    probe.wait_for("web.uid");
    let me = rustix::process::geteuid().as_raw();
    // As root: the app's own user; as an ordinary user: that user.
    let expected = if me == 0 {
        uid_of(&bale_app::user_name(APP))
    } else {
        me
    };
    let service: u32 = fs::read_to_string(probe.run_dir().join("web.uid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(service, expected);
    assert_eq!(probe.command("uid"), expected.to_string());
    if me == 0 {
        assert_ne!(service, 0, "the service runs as root");
    }
    for written in ["web.env", "post-deploy.env"] {
        let meta = fs::metadata(probe.run_dir().join(written)).unwrap();
        assert_eq!(meta.uid(), expected, "{written} is not the app user's");
    }
    assert_eq!(fs::metadata(probe.run_dir()).unwrap().uid(), expected);
    assert_eq!(
        fs::metadata(probe.run_dir().join("old/data"))
            .unwrap()
            .uid(),
        expected,
        "the data kept in run/ was not handed over"
    );
    assert_eq!(
        fs::metadata("/etc/hostname").unwrap().uid(),
        0,
        "handing over run/ followed a link out of it"
    );
    // bale's own files stay bale's: the app cannot forge a pid file or a log.
    for own in ["pids", "logs"] {
        assert_eq!(fs::metadata(probe.run_dir().join(own)).unwrap().uid(), me);
    }
}

#[test]
fn limits_on_the_host_are_reported_as_not_applied_with_the_reason() {
    let probe = Probe::new();
    probe.deploy("1.0.0");
    let app = bale_app::AppDirs::new(&probe.home, APP).unwrap();
    let status = bale_app::app_status(&app).unwrap();
    let web = status.services.iter().find(|s| s.name == "web").unwrap();
    let limits = web.limits.as_ref().expect("the package sets limits");
    assert_eq!(limits.memory.as_deref(), Some("256M"));
    assert_eq!(limits.tasks, Some(128));
    assert_eq!(limits.cpu, None);
    assert!(!limits.applied);
    let reason = limits.reason.as_deref().unwrap_or_default();
    assert!(reason.contains("isolation = \"none\""), "{reason}");
}
