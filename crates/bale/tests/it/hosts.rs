//! `bale deploy --hosts`: two machines made as network namespaces on this
//! one, each with its own sshd (Debian's openssh-server) on a private veth
//! address and its own BALE_HOME, deployed to over ssh from a `bale serve`
//! on 127.0.0.1 that ssh forwards to each host's loopback.
//!
//! Needs root, `ip netns` and /usr/sbin/sshd; not run (with the reason
//! printed) without them, a failure under CI=true.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bale_testkit::Served;
use common::{free_port, Scratch};
use predicates::prelude::*;

const SSHD: &str = "/usr/sbin/sshd";

/// Why this machine cannot run the test, if it cannot.
fn unsupported() -> Option<String> {
    if !bale_testkit::is_root() {
        return Some("needs root (ip netns, sshd)".into());
    }
    if !Path::new(SSHD).is_file() {
        return Some(format!("{SSHD} is missing (Debian package openssh-server)"));
    }
    match StdCommand::new("ip").args(["netns", "list"]).output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`ip netns` is unavailable: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("`ip` cannot run: {e}")),
    }
}

fn run(program: &str, args: &[&str]) {
    let out = StdCommand::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One machine: a network namespace reached over a veth pair, an sshd in it,
/// and its own BALE_HOME.
struct Host {
    name: String,
    netns: String,
    address: String,
    dir: PathBuf,
    sshd: Option<Child>,
}

impl Host {
    /// Makes namespace `netns` with the host side at `.1` and the machine at `.2` of 10.213.`a`.`b`/30.
    fn create(dir: &Path, index: u32, a: u32, client_pub: &str) -> Host {
        let pid = std::process::id();
        let netns = format!("bale-test-{pid}-{index}");
        let outside = format!("bh{}o{index}", pid % 100_000);
        let inside = format!("bh{}i{index}", pid % 100_000);
        let b = index * 4;
        let (gateway, address) = (
            format!("10.213.{a}.{}", b + 1),
            format!("10.213.{a}.{}", b + 2),
        );
        let dir = dir.join(format!("host{index}"));
        std::fs::create_dir_all(dir.join("home")).expect("mkdir");
        let mut host = Host {
            name: format!("bale-test-host{}", (index - 1) % 2 + 1),
            netns: netns.clone(),
            address: address.clone(),
            dir,
            sshd: None,
        };
        run("ip", &["netns", "add", &netns]);
        run(
            "ip",
            &[
                "link", "add", &outside, "type", "veth", "peer", "name", &inside,
            ],
        );
        run("ip", &["link", "set", &inside, "netns", &netns]);
        run(
            "ip",
            &["addr", "add", &format!("{gateway}/30"), "dev", &outside],
        );
        run("ip", &["link", "set", &outside, "up"]);
        run(
            "ip",
            &[
                "-n",
                &netns,
                "addr",
                "add",
                &format!("{address}/30"),
                "dev",
                &inside,
            ],
        );
        run("ip", &["-n", &netns, "link", "set", &inside, "up"]);
        run("ip", &["-n", &netns, "link", "set", "lo", "up"]);
        host.start_sshd(client_pub);
        host
    }

    fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    fn start_sshd(&mut self, client_pub: &str) {
        let key = self.dir.join("ssh_host_ed25519_key");
        run(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                &key.to_string_lossy(),
            ],
        );
        std::fs::write(self.dir.join("authorized_keys"), client_pub).expect("authorized_keys");
        // sshd refuses to start without its privilege separation directory.
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
        let config = format!(
            "ListenAddress {address}\nPort 22\nHostKey {key}\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\n\
             AllowTcpForwarding yes\nSetEnv BALE_HOME={home}\n",
            address = self.address,
            key = key.display(),
            dir = self.dir.display(),
            home = self.home().display(),
        );
        let config_path = self.dir.join("sshd_config");
        std::fs::write(&config_path, config).expect("sshd_config");
        let child = StdCommand::new("ip")
            .args(["netns", "exec", &self.netns, SSHD, "-D", "-e", "-f"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("sshd.log")).expect("log"))
            .spawn()
            .expect("sshd starts");
        self.sshd = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect_timeout(
                &format!("{}:22", self.address).parse().expect("addr"),
                Duration::from_millis(200),
            )
            .is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "sshd on {} did not listen: {}",
            self.address,
            std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
        );
    }

    /// The `known_hosts` line for this machine's host key.
    fn known_hosts_line(&self) -> String {
        let public =
            std::fs::read_to_string(self.dir.join("ssh_host_ed25519_key.pub")).expect("host key");
        let mut words = public.split_whitespace();
        format!(
            "{} {} {}\n",
            self.address,
            words.next().expect("type"),
            words.next().expect("key")
        )
    }

    /// The app's current version on this machine, as `bale apps` reports it.
    fn current(&self, s: &Scratch, app: &str) -> Option<String> {
        let out = s
            .bale()
            .env("BALE_HOME", self.home())
            .args(["apps", "--json"])
            .output()
            .expect("bale apps");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let apps: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        apps.as_array()?
            .iter()
            .find(|a| a["name"] == app)?
            .get("current")?
            .get("coordinate")?
            .as_str()
            .map(str::to_owned)
    }

    /// What the app answers on the machine's own loopback.
    fn get(&self, port: u16) -> Option<String> {
        let out = StdCommand::new("ip")
            .args([
                "netns",
                "exec",
                &self.netns,
                "curl",
                "-fsS",
                "--max-time",
                "5",
                &format!("http://127.0.0.1:{port}/"),
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Every process in the namespace: sshd and the app's services.
        if let Ok(out) = StdCommand::new("ip")
            .args(["netns", "pids", &self.netns])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = StdCommand::new("kill").args(["-KILL", pid]).status();
            }
        }
        if let Some(mut sshd) = self.sshd.take() {
            let _ = sshd.kill();
            let _ = sshd.wait();
        }
        // Deleting the namespace removes its end of the veth pair, and with it the pair.
        let _ = StdCommand::new("ip")
            .args(["netns", "del", &self.netns])
            .status();
    }
}

fn serve(s: &Scratch, port: u16) -> Served {
    s.serve().port(port).start()
}

/// A web app whose page names its version; version 2 refuses to start on a
/// machine whose runtime directory holds `broken`, so its health check fails there.
fn package(s: &Scratch, version: &str, port: u16) -> String {
    let dir = format!("pkg-{version}");
    s.write(
        &format!("{dir}/root/app/index.html"),
        &format!("web {version}\n"),
    );
    let check =
        r#"if [ -e "$BALE_RUN/broken" ]; then echo "this machine is broken" >&2; exit 1; fi; "#;
    let service = format!(
        r#"{}exec python3 -m http.server --bind 127.0.0.1 "$PORT""#,
        if version == "1.0.0" { "" } else { check }
    );
    s.write(
        &format!("{dir}/bale.toml"),
        &format!(
            "[package]\ngroup = \"org.example\"\nname = \"web\"\nversion = \"{version}\"\n\n[stack]\nname = \"host\"\nkind = \"static\"\n\n\
             [run]\nworkdir = \"app\"\n\n[run.services]\nweb = '{service}'\n\n\
             [kits.web]\nmain = true\nports = [{{ name = \"http\", port = {port} }}]\nhealth = {{ http = \"/\", timeout = \"5s\" }}\n"
        ),
    );
    s.bale()
        .current_dir(s.path().join(&dir))
        .args([
            "pack",
            "root",
            "--manifest",
            "bale.toml",
            "--key",
            "default",
            "-o",
            "..",
        ])
        .assert()
        .success();
    // No ELF file in it: a package for every architecture.
    format!("web-{version}-all.bale")
}

/// Two hosts, a repository holding web 1.0.0 and 2.0.0, and the ssh config that reaches them.
struct Lab {
    s: Scratch,
    hosts: Vec<Host>,
    _server: Served,
    repo: String,
    ssh: String,
    app_port: u16,
}

fn lab() -> Option<Lab> {
    let unsupported = unsupported();
    if !bale_testkit::require(
        unsupported.is_none(),
        unsupported.as_deref().unwrap_or_default(),
    ) {
        return None;
    }
    let s = Scratch::new();
    s.bale().args(["key", "generate"]).assert().success();
    let app_port = free_port();
    let packages = [
        package(&s, "1.0.0", app_port),
        package(&s, "2.0.0", app_port),
    ];

    let out = s
        .bale()
        .args(["token", "create", "--scope", "publish", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let token: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let token = token["token"].as_str().expect("token").to_owned();
    let port = free_port();
    let server = serve(&s, port);
    let repo = format!("http://127.0.0.1:{port}");
    for file in &packages {
        s.bale()
            .env("BALE_TOKEN", &token)
            .args(["publish", file, "--repo", &repo])
            .assert()
            .success();
    }

    let client_key = s.path().join("id_ed25519");
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            &client_key.to_string_lossy(),
        ],
    );
    let client_pub = std::fs::read_to_string(s.path().join("id_ed25519.pub")).expect("client key");
    // Tests run in parallel: each lab takes its own pair of host numbers.
    static LABS: AtomicU32 = AtomicU32::new(0);
    let lab = LABS.fetch_add(1, Ordering::SeqCst);
    let subnet = std::process::id() % 250;
    let hosts: Vec<Host> = (1..=2)
        .map(|i| Host::create(s.path(), lab * 2 + i, subnet, &client_pub))
        .collect();

    let mut config = String::new();
    let mut known = String::new();
    for host in &hosts {
        config += &format!(
            "Host {}\n  HostName {}\n  User root\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
             GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  LogLevel ERROR\n",
            host.name,
            host.address,
            client_key.display(),
            s.path().join("known_hosts").display()
        );
        known += &host.known_hosts_line();
        // Each machine trusts the publisher's key, as a provisioned host would.
        s.bale()
            .env("BALE_HOME", host.home())
            .args(["key", "trust"])
            .arg(s.home().join("keys/default.pub"))
            .assert()
            .success();
    }
    std::fs::write(s.path().join("known_hosts"), known).expect("known_hosts");
    std::fs::write(s.path().join("ssh_config"), config).expect("ssh_config");
    let ssh = format!("ssh -F {}", s.path().join("ssh_config").display());
    Some(Lab {
        s,
        hosts,
        _server: server,
        repo,
        ssh,
        app_port,
    })
}

impl Lab {
    fn deploy(&self, version: &str, extra: &[&str]) -> assert_cmd::assert::Assert {
        let names = self
            .hosts
            .iter()
            .map(|h| h.name.as_str())
            .collect::<Vec<_>>()
            .join(",");
        self.s
            .bale()
            .args([
                "deploy",
                "web",
                &format!("org.example:web:{version}"),
                "--hosts",
                &names,
                "--repo",
                &self.repo,
                "--ssh",
                &self.ssh,
            ])
            .args(extra)
            .timeout(Duration::from_secs(180))
            .assert()
    }
}

#[test]
fn a_deploy_to_two_hosts_installs_from_the_repository_and_runs_on_each() {
    let Some(lab) = lab() else { return };
    lab.deploy("1.0.0", &["--env", "GREETING=hi there"])
        .success()
        .stderr(
            predicate::str::contains("Deployed bale-test-host1")
                .and(predicate::str::contains("Deployed bale-test-host2")),
        );
    for host in &lab.hosts {
        // The variable travelled on the connection's input, not its command line.
        let env = std::fs::read_to_string(host.home().join("apps/web/env")).unwrap_or_default();
        assert!(
            env.contains("GREETING") && env.contains("hi there"),
            "{}: {env}",
            host.name
        );
        assert_eq!(
            host.current(&lab.s, "web").as_deref(),
            Some("org.example:web:1.0.0"),
            "{}",
            host.name
        );
        assert!(
            host.home().join("pkgs/org/example/web/1.0.0").is_dir(),
            "installed on {}",
            host.name
        );
        assert_eq!(
            host.get(lab.app_port).as_deref(),
            Some("web 1.0.0\n"),
            "{} answers",
            host.name
        );
    }
    assert!(
        !lab.s.home().join("apps/web").exists(),
        "nothing was deployed on the machine that ran bale"
    );
}

#[test]
fn a_rolling_deploy_stops_at_the_first_failing_host_and_leaves_the_next_untouched() {
    let Some(lab) = lab() else { return };
    lab.deploy("1.0.0", &["--rolling"]).success();
    let broken = &lab.hosts[0];
    std::fs::write(broken.home().join("apps/web/run/broken"), "").expect("mark host 1 broken");

    lab.deploy("2.0.0", &["--rolling"]).code(1).stderr(
        predicate::str::contains("bale-test-host1: the deploy on the host failed")
            .and(predicate::str::contains(
                "bale-test-host2: not attempted and left untouched",
            ))
            .and(predicate::str::contains(
                "2 of 2 hosts do not have org.example:web:2.0.0",
            )),
    );
    // Host 1 rolled itself back to 1.0.0, which answers again.
    assert_eq!(
        broken.current(&lab.s, "web").as_deref(),
        Some("org.example:web:1.0.0")
    );
    assert_eq!(broken.get(lab.app_port).as_deref(), Some("web 1.0.0\n"));
    // Host 2 never heard of 2.0.0.
    let untouched = &lab.hosts[1];
    assert_eq!(
        untouched.current(&lab.s, "web").as_deref(),
        Some("org.example:web:1.0.0")
    );
    assert!(!untouched.home().join("pkgs/org/example/web/2.0.0").exists());
    assert_eq!(untouched.get(lab.app_port).as_deref(), Some("web 1.0.0\n"));
}

#[test]
fn an_unreachable_host_fails_with_the_ssh_reason_and_the_other_host_still_deploys() {
    let Some(mut lab) = lab() else { return };
    if let Some(mut sshd) = lab.hosts[0].sshd.take() {
        sshd.kill().expect("stop sshd of host 1");
        sshd.wait().expect("wait");
    }
    lab.deploy("1.0.0", &[]).code(1).stderr(
        predicate::str::contains("bale-test-host1: ssh could not connect")
            .and(predicate::str::contains("Deployed bale-test-host2")),
    );
    assert_eq!(
        lab.hosts[1].current(&lab.s, "web").as_deref(),
        Some("org.example:web:1.0.0")
    );
    assert_eq!(lab.hosts[0].current(&lab.s, "web"), None);
}
