//! Running the deploy on every host, all at once or one at a time, and
//! collecting what each host said.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Host, RemoteDeploy, RemoteError, Ssh};

/// How many of a host's last output lines a result keeps.
const KEPT_LINES: usize = 20;

/// The order hosts are deployed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Every host at once; each host's result stands alone.
    Parallel,
    /// One host at a time, stopping at the first failure.
    Rolling,
}

/// What happened on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `bale deploy` succeeded there.
    Deployed,
    /// The deploy (or the connection) failed; the reason says which.
    Failed {
        /// The exit code of `ssh` (the remote command's, or 255 for ssh's own failure).
        code: Option<i32>,
        /// A one-line explanation.
        reason: String,
    },
    /// Not attempted: a rolling deploy stopped at an earlier host.
    NotAttempted {
        /// The host whose failure stopped the rollout.
        stopped_at: Host,
    },
}

/// One host's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostResult {
    /// The host.
    pub host: Host,
    /// Deployed, failed or not attempted.
    pub outcome: Outcome,
    /// The host's last output lines (stdout and stderr as they came).
    pub output: Vec<String>,
    /// How long the host took.
    pub elapsed: Duration,
}

impl HostResult {
    /// Whether the host has the new deployment.
    pub fn deployed(&self) -> bool {
        self.outcome == Outcome::Deployed
    }

    /// The last non-empty output line, e.g. the `Deployed …` status or the error.
    pub fn last_line(&self) -> Option<&str> {
        self.output
            .iter()
            .rev()
            .map(|l| l.trim())
            .find(|l| !l.is_empty())
    }
}

/// Deploys `plan` on `hosts` in `order`. `progress` receives each output line
/// of each host as it arrives. The plan is checked before any host is
/// contacted; after that every host gets a result, in the order given.
pub fn roll_out(
    hosts: &[Host],
    plan: &RemoteDeploy,
    ssh: &Ssh,
    order: Order,
    progress: &(dyn Fn(&Host, &str) + Sync),
) -> Result<Vec<HostResult>, RemoteError> {
    let commands = hosts
        .iter()
        .map(|h| plan.ssh_command(ssh, h))
        .collect::<Result<Vec<_>, _>>()?;
    let input = plan.env_input()?;
    let input = input.as_deref();
    let results = match order {
        Order::Parallel => std::thread::scope(|scope| {
            let running: Vec<_> = hosts
                .iter()
                .zip(&commands)
                .map(|(host, line)| scope.spawn(move || run_one(host, line, input, progress)))
                .collect();
            running
                .into_iter()
                .zip(hosts)
                .map(|(handle, host)| {
                    handle.join().unwrap_or_else(|_| HostResult {
                        host: host.clone(),
                        outcome: Outcome::Failed {
                            code: None,
                            reason: "bale's thread for this host panicked".into(),
                        },
                        output: Vec::new(),
                        elapsed: Duration::ZERO,
                    })
                })
                .collect()
        }),
        Order::Rolling => {
            let mut results: Vec<HostResult> = Vec::with_capacity(hosts.len());
            for (host, line) in hosts.iter().zip(&commands) {
                if let Some(failed) = results.iter().find(|r| !r.deployed()) {
                    let stopped_at = failed.host.clone();
                    results.push(HostResult {
                        host: host.clone(),
                        outcome: Outcome::NotAttempted { stopped_at },
                        output: Vec::new(),
                        elapsed: Duration::ZERO,
                    });
                    continue;
                }
                results.push(run_one(host, line, input, progress));
            }
            results
        }
    };
    Ok(results)
}

/// Runs one host's ssh command with `input` on its standard input,
/// streaming and keeping its output.
fn run_one(
    host: &Host,
    line: &[String],
    input: Option<&[u8]>,
    progress: &(dyn Fn(&Host, &str) + Sync),
) -> HostResult {
    let started = Instant::now();
    let failed = |reason: String, output: Vec<String>| HostResult {
        host: host.clone(),
        outcome: Outcome::Failed { code: None, reason },
        output,
        elapsed: started.elapsed(),
    };
    let mut child = match Command::new(&line[0])
        .args(&line[1..])
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return failed(
                format!(
                    "could not run `{}`: {e}; is the ssh client installed?",
                    line[0]
                ),
                Vec::new(),
            )
        }
    };
    let stdin = child.stdin.take();
    let kept = Mutex::new(VecDeque::with_capacity(KEPT_LINES));
    let forward = |stream: Box<dyn Read + Send>| {
        for text in BufReader::new(stream).lines().map_while(Result::ok) {
            progress(host, &text);
            let mut kept = kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if kept.len() == KEPT_LINES {
                kept.pop_front();
            }
            kept.push_back(text);
        }
    };
    let stdout = child
        .stdout
        .take()
        .map(|s| Box::new(s) as Box<dyn Read + Send>);
    let stderr = child
        .stderr
        .take()
        .map(|s| Box::new(s) as Box<dyn Read + Send>);
    std::thread::scope(|scope| {
        if let (Some(input), Some(mut stdin)) = (input, stdin) {
            // Written while the output is read, and closed, so the host's
            // `--env-file -` sees its end; a host that stops reading fails
            // its deploy, which its output shows.
            scope.spawn(move || {
                let _ = stdin.write_all(input);
            });
        }
        for stream in [stdout, stderr].into_iter().flatten() {
            scope.spawn(|| forward(stream));
        }
    });
    let status = child.wait();
    let output: Vec<String> = kept
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .into();
    let status = match status {
        Ok(status) => status,
        Err(e) => return failed(format!("waiting for ssh failed: {e}"), output),
    };
    let outcome = match status.code() {
        Some(0) => Outcome::Deployed,
        Some(255) => Outcome::Failed {
            code: Some(255),
            reason: "ssh could not connect, log in or forward the repository (exit 255)".into(),
        },
        Some(127) => Outcome::Failed {
            code: Some(127),
            reason: "bale was not found on the host; install it there or give --remote-bale PATH"
                .into(),
        },
        Some(code) => Outcome::Failed {
            code: Some(code),
            reason: format!("the deploy on the host failed (exit {code})"),
        },
        None => Outcome::Failed {
            code: None,
            reason: "ssh was killed by a signal".into(),
        },
    };
    HostResult {
        host: host.clone(),
        outcome,
        output,
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::{parse_hosts, RemoteBale};

    /// A stand-in for ssh that runs the command locally with HOST set to the
    /// destination, and a stand-in for bale that logs its calls and fails on
    /// the host named `bad`.
    struct Fakes {
        dir: tempfile::TempDir,
    }

    impl Fakes {
        fn new() -> Fakes {
            let dir = tempfile::tempdir().expect("tempdir");
            let write = |name: &str, text: &str| {
                let path = dir.path().join(name);
                std::fs::write(&path, text).expect("write");
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
            };
            write(
                "ssh",
                "#!/bin/sh\nwhile [ \"$1\" != -- ]; do shift; done\nHOST=$2 exec /bin/sh -c \"$3\"\n",
            );
            let log = dir.path().join("log");
            write(
                "bale",
                &format!(
                    "#!/bin/sh\necho \"$HOST $1\" >> {}\necho \"$1 on $HOST\"\nif [ \"$HOST\" = bad ] && [ \"$1\" = deploy ]; then echo health check failed >&2; exit 1; fi\n",
                    log.display()
                ),
            );
            Fakes { dir }
        }

        fn ssh(&self) -> Ssh {
            Ssh::from_command(&self.dir.path().join("ssh").to_string_lossy()).expect("ssh")
        }

        fn plan(&self) -> RemoteDeploy {
            RemoteDeploy {
                app: "web".into(),
                coordinate: "org.example:web:1.0.0".into(),
                repo: Some("http://repo.example:7070".into()),
                env: Vec::new(),
                keep: None,
                wait: false,
                allow_unsigned: false,
                bale: RemoteBale::Given(
                    self.dir.path().join("bale").to_string_lossy().into_owned(),
                ),
            }
        }

        fn log(&self) -> Vec<String> {
            let path: &Path = &self.dir.path().join("log");
            let mut lines: Vec<String> = std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect();
            lines.sort();
            lines
        }
    }

    fn quiet(_: &Host, _: &str) {}

    #[test]
    fn a_parallel_deploy_runs_every_host_and_reports_each() {
        let fakes = Fakes::new();
        let hosts = parse_hosts("a,bad,c").expect("hosts");
        let results = roll_out(&hosts, &fakes.plan(), &fakes.ssh(), Order::Parallel, &quiet)
            .expect("rollout");
        let outcomes: Vec<bool> = results.iter().map(HostResult::deployed).collect();
        assert_eq!(outcomes, [true, false, true]);
        assert_eq!(results[0].last_line(), Some("deploy on a"));
        assert_eq!(results[1].last_line(), Some("health check failed"));
        assert_eq!(
            fakes.log(),
            [
                "a deploy",
                "a install",
                "bad deploy",
                "bad install",
                "c deploy",
                "c install"
            ]
        );
    }

    #[test]
    fn a_rolling_deploy_stops_at_the_first_failure_and_leaves_later_hosts_alone() {
        let fakes = Fakes::new();
        let hosts = parse_hosts("a,bad,c").expect("hosts");
        let results =
            roll_out(&hosts, &fakes.plan(), &fakes.ssh(), Order::Rolling, &quiet).expect("rollout");
        assert!(results[0].deployed());
        assert!(matches!(
            results[1].outcome,
            Outcome::Failed { code: Some(1), .. }
        ));
        assert_eq!(
            results[2].outcome,
            Outcome::NotAttempted {
                stopped_at: hosts[1].clone()
            }
        );
        assert_eq!(
            fakes.log(),
            ["a deploy", "a install", "bad deploy", "bad install"]
        );
    }

    #[test]
    fn progress_sees_every_line_with_its_host() {
        let fakes = Fakes::new();
        let hosts = parse_hosts("a,c").expect("hosts");
        let seen = Mutex::new(Vec::new());
        let progress =
            |h: &Host, line: &str| seen.lock().expect("lock").push(format!("{h}: {line}"));
        roll_out(
            &hosts,
            &fakes.plan(),
            &fakes.ssh(),
            Order::Rolling,
            &progress,
        )
        .expect("rollout");
        assert_eq!(
            seen.into_inner().expect("lock"),
            [
                "a: install on a",
                "a: deploy on a",
                "c: install on c",
                "c: deploy on c"
            ]
        );
    }

    #[test]
    fn a_missing_ssh_client_fails_every_host_with_a_hint() {
        let fakes = Fakes::new();
        let hosts = parse_hosts("a").expect("hosts");
        let ssh = Ssh::from_command("/nonexistent/ssh").expect("ssh");
        let results =
            roll_out(&hosts, &fakes.plan(), &ssh, Order::Parallel, &quiet).expect("rollout");
        match &results[0].outcome {
            Outcome::Failed { reason, .. } => assert!(reason.contains("ssh client"), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_bad_repository_fails_before_any_host_is_contacted() {
        let fakes = Fakes::new();
        let mut plan = fakes.plan();
        plan.repo = Some("ftp://127.0.0.1/".into());
        let hosts = parse_hosts("a").expect("hosts");
        assert!(roll_out(&hosts, &plan, &fakes.ssh(), Order::Parallel, &quiet).is_err());
        assert!(fakes.log().is_empty());
    }
}
