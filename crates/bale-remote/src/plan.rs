//! What runs on each host, and the `ssh` command that runs it.

use std::path::PathBuf;

use crate::shell::quote;
use crate::{Host, RemoteError};

/// How `bale` is found on the hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteBale {
    /// At the same path as the local one, else `bale` on the host's `PATH`.
    SameAsLocal(PathBuf),
    /// Exactly this path on every host (`--remote-bale`).
    Given(String),
}

/// The ssh client: the system `ssh` with BatchMode; the user's ssh config applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssh {
    program: String,
    args: Vec<String>,
}

impl Ssh {
    /// Plain `ssh` from `PATH`.
    pub fn system() -> Ssh {
        Ssh {
            program: "ssh".to_owned(),
            args: Vec::new(),
        }
    }

    /// A command line such as `ssh -F /etc/bale/ssh_config`: words split on whitespace.
    pub fn from_command(text: &str) -> Result<Ssh, RemoteError> {
        let mut words = text.split_whitespace().map(str::to_owned);
        let program = words.next().ok_or(RemoteError::EmptySsh)?;
        Ok(Ssh {
            program,
            args: words.collect(),
        })
    }

    /// The program run.
    pub fn program(&self) -> &str {
        &self.program
    }
}

/// A repository on this machine's loopback, made reachable on each host's
/// loopback at the same port through the ssh connection (`ssh -R`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    /// The port, the same on both sides.
    pub port: u16,
}

/// One deploy to run on every host: `bale install` from the repository,
/// then `bale deploy`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDeploy {
    /// The app.
    pub app: String,
    /// The package's coordinate (`group:name:version`).
    pub coordinate: String,
    /// The repository URL; `None` leaves it to the host's own `BALE_REPO`.
    pub repo: Option<String>,
    /// Variables for the deploy, sent on the ssh connection's standard
    /// input (`--env-file -`), never on a command line where `ps` shows them.
    pub env: Vec<(String, String)>,
    /// `--keep N` for the deploy.
    pub keep: Option<usize>,
    /// `--wait` for another deploy of the app on a host.
    pub wait: bool,
    /// `--allow-unsigned` for install and deploy.
    pub allow_unsigned: bool,
    /// Where `bale` is on the hosts.
    pub bale: RemoteBale,
}

impl RemoteDeploy {
    /// The forward a repository on the local loopback needs, checking the URL.
    pub fn forward(&self) -> Result<Option<Forward>, RemoteError> {
        let Some(text) = &self.repo else {
            return Ok(None);
        };
        let bad = |reason: &str| RemoteError::BadRepo {
            url: text.clone(),
            reason: reason.to_owned(),
        };
        let url = url::Url::parse(text)
            .map_err(|e| bad(&format!("{e}; give a URL such as http://repo.example:7070")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("only http and https repositories can be used"));
        }
        let loopback = match url.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => return Err(bad("the URL names no host")),
        };
        if !loopback {
            return Ok(None);
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| bad("the URL has no port"))?;
        Ok(Some(Forward { port }))
    }

    /// The shell command the host runs (its stderr joined to stdout, so
    /// the order of the host's lines is kept).
    pub fn script(&self) -> String {
        let mut script = "exec 2>&1; ".to_owned();
        script += &match &self.bale {
            RemoteBale::SameAsLocal(path) => {
                format!(
                    "b={}; [ -x \"$b\" ] || b=bale; ",
                    quote(&path.to_string_lossy())
                )
            }
            RemoteBale::Given(path) => format!("b={}; ", quote(path)),
        };
        let coordinate = quote(&self.coordinate);
        script.push_str(&format!("\"$b\" install {coordinate}"));
        if let Some(repo) = &self.repo {
            script.push_str(&format!(" --repo {}", quote(repo)));
        }
        if self.allow_unsigned {
            script.push_str(" --allow-unsigned");
        }
        script.push_str(&format!(
            " && exec \"$b\" deploy {} {coordinate}",
            quote(&self.app)
        ));
        if !self.env.is_empty() {
            script.push_str(" --env-file -");
        }
        if let Some(keep) = self.keep {
            script.push_str(&format!(" --keep {keep}"));
        }
        if self.wait {
            script.push_str(" --wait");
        }
        if self.allow_unsigned {
            script.push_str(" --allow-unsigned");
        }
        script
    }

    /// What the host's `bale deploy --env-file -` reads: one `NAME=VALUE`
    /// per line; `None` without variables.
    pub fn env_input(&self) -> Result<Option<Vec<u8>>, RemoteError> {
        if self.env.is_empty() {
            return Ok(None);
        }
        let mut input = String::new();
        for (name, value) in &self.env {
            if name.contains(['\n', '=']) || value.contains('\n') {
                return Err(RemoteError::BadVariable { name: name.clone() });
            }
            input.push_str(&format!("{name}={value}\n"));
        }
        Ok(Some(input.into_bytes()))
    }

    /// The ssh command line (program first) that deploys on `host`.
    pub fn ssh_command(&self, ssh: &Ssh, host: &Host) -> Result<Vec<String>, RemoteError> {
        let mut line = vec![ssh.program.clone()];
        line.extend(ssh.args.iter().cloned());
        // BatchMode: a password or host-key prompt fails the host instead of hanging the deploy.
        line.extend(["-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15"].map(str::to_owned));
        if let Some(forward) = self.forward()? {
            let port = forward.port;
            line.extend(["-o".to_owned(), "ExitOnForwardFailure=yes".to_owned()]);
            line.extend(["-R".to_owned(), format!("{port}:127.0.0.1:{port}")]);
        }
        line.push("--".to_owned());
        line.push(host.as_str().to_owned());
        line.push(self.script());
        Ok(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_hosts;

    fn plan(repo: Option<&str>) -> RemoteDeploy {
        RemoteDeploy {
            app: "notes".into(),
            coordinate: "org.example:flask-notes:1.0.0".into(),
            repo: repo.map(str::to_owned),
            env: vec![("GREETING".into(), "hi there".into())],
            keep: Some(3),
            wait: true,
            allow_unsigned: false,
            bale: RemoteBale::Given("/opt/bale/bin/bale".into()),
        }
    }

    fn host() -> Host {
        parse_hosts("web1").expect("host").remove(0)
    }

    #[test]
    fn variables_go_on_standard_input_not_on_the_command_line() {
        let p = plan(None);
        let line = p
            .ssh_command(&Ssh::system(), &host())
            .expect("command")
            .join(" ");
        assert!(
            !line.contains("GREETING") && !line.contains("hi there"),
            "{line}"
        );
        assert_eq!(
            p.env_input().expect("input").as_deref(),
            Some(&b"GREETING=hi there\n"[..])
        );
        let none = RemoteDeploy {
            env: Vec::new(),
            ..plan(None)
        };
        assert_eq!(none.env_input().expect("input"), None);
        assert!(!none.script().contains("--env-file"));
    }

    #[test]
    fn a_variable_with_a_line_break_is_refused_naming_it() {
        let p = RemoteDeploy {
            env: vec![("MOTD".into(), "two\nlines".into())],
            ..plan(None)
        };
        let err = p.env_input().expect_err("refused").to_string();
        assert!(err.contains("MOTD") && err.contains("line break"), "{err}");
    }

    #[test]
    fn the_script_installs_from_the_repository_then_deploys_with_the_options() {
        assert_eq!(
            plan(Some("http://repo.example:7070")).script(),
            "exec 2>&1; b=/opt/bale/bin/bale; \"$b\" install org.example:flask-notes:1.0.0 --repo http://repo.example:7070 \
             && exec \"$b\" deploy notes org.example:flask-notes:1.0.0 --env-file - --keep 3 --wait"
        );
    }

    #[test]
    fn the_local_bale_path_falls_back_to_bale_on_the_host_path() {
        let mut p = plan(None);
        p.bale = RemoteBale::SameAsLocal("/usr/local/bin/bale".into());
        assert!(
            p.script().starts_with(
                "exec 2>&1; b=/usr/local/bin/bale; [ -x \"$b\" ] || b=bale; \"$b\" install"
            ),
            "{}",
            p.script()
        );
    }

    #[test]
    fn a_loopback_repository_is_forwarded_to_the_same_port_on_the_host() {
        for url in [
            "http://127.0.0.1:7070",
            "http://localhost:7070/",
            "http://[::1]:7070",
        ] {
            let line = plan(Some(url))
                .ssh_command(&Ssh::system(), &host())
                .expect("command");
            let r = line.iter().position(|a| a == "-R").expect("a forward");
            assert_eq!(line[r + 1], "7070:127.0.0.1:7070", "{url}");
            assert!(line.contains(&"ExitOnForwardFailure=yes".to_owned()));
        }
    }

    #[test]
    fn a_repository_elsewhere_is_not_forwarded() {
        let line = plan(Some("https://repo.example"))
            .ssh_command(&Ssh::system(), &host())
            .expect("command");
        assert!(!line.contains(&"-R".to_owned()));
    }

    #[test]
    fn the_ssh_command_keeps_its_options_and_runs_in_batch_mode_before_the_host() {
        let ssh = Ssh::from_command("ssh -F /etc/bale/ssh_config").expect("ssh");
        let line = plan(None).ssh_command(&ssh, &host()).expect("command");
        assert_eq!(&line[..3], ["ssh", "-F", "/etc/bale/ssh_config"]);
        assert!(line.contains(&"BatchMode=yes".to_owned()));
        let n = line.len();
        assert_eq!(&line[n - 3..n - 1], ["--", "web1"]);
    }

    #[test]
    fn a_repository_url_that_is_not_http_is_refused() {
        let err = plan(Some("ftp://127.0.0.1/")).forward().unwrap_err();
        assert!(err.to_string().contains("only http and https"), "{err}");
        assert!(plan(Some("not a url")).forward().is_err());
    }

    #[test]
    fn an_empty_ssh_command_is_refused() {
        assert!(matches!(
            Ssh::from_command("  "),
            Err(RemoteError::EmptySsh)
        ));
    }
}
