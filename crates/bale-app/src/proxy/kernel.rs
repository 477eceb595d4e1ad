//! The kernel's share of the proxy: when bale runs as root and the machine
//! has nftables, each route whose service is listening is also written as a
//! NAT `redirect` rule (public port → private port) in a table of the app's
//! own, so connections go straight to the service without passing through
//! the proxy process — as Docker publishes ports with iptables beside its
//! userland proxy. The proxy still listens on every public port: a
//! connection the rules do not take (no rule yet, the service not listening,
//! nftables missing) reaches it and is forwarded as before, waiting for a
//! service that is (re)starting.
//!
//! A switch replaces the table in one nftables transaction: new connections
//! go to the new port from then on, while connections already made keep
//! their translation (conntrack) to the old one until they close. Those are
//! counted from `/proc/net/tcp` so a deploy still waits for them.
//!
//! Only IPv4 is redirected, as the proxy listens on IPv4 only. Connections
//! from the machine itself to any of its addresses are redirected to
//! 127.0.0.1 (the `output` hook); connections from other machines only when
//! the service listens on every address (`prerouting`, which redirects to
//! the address they came in on), since a service on 127.0.0.1 cannot take
//! them there.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

/// Where nftables' command is looked for; the detached proxy has no `PATH`.
const NFT: &[&str] = &["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"];

/// One rule: connections to `public` go to `private`; from other machines
/// too when `wildcard` (the service listens on every address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Redirect {
    pub public: u16,
    pub private: u16,
    pub wildcard: bool,
}

/// The app's nftables table, written whole by [`Kernel::apply`].
#[derive(Debug)]
pub(crate) struct Kernel {
    nft: PathBuf,
    table: String,
}

impl Kernel {
    /// The kernel's forwarding for the app at `app_root`, when this process
    /// may use it (root, nftables installed); `None` otherwise.
    pub fn for_app(app_root: &Path) -> Option<Kernel> {
        if !rustix::process::geteuid().is_root() {
            return None;
        }
        let nft = NFT.iter().map(PathBuf::from).find(|p| p.is_file())?;
        Some(Kernel {
            nft,
            table: table_name(app_root),
        })
    }

    /// The table's name, `bale_` and a hash of the app's directory: unique
    /// per app and `$BALE_HOME`, and made of characters nftables takes.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Makes `redirects` the whole table in one transaction; none removes it.
    pub fn apply(&self, redirects: &BTreeSet<Redirect>) -> io::Result<()> {
        if redirects.is_empty() {
            return self.clear();
        }
        self.run(&ruleset(&self.table, redirects))
    }

    /// Removes the table, if it is there.
    pub fn clear(&self) -> io::Result<()> {
        // Adding first makes the delete succeed whether or not the table was there.
        let table = &self.table;
        self.run(&format!("table ip {table}\ndelete table ip {table}\n"))
    }

    /// Runs `nft -f -` with `script` on its standard input: only port numbers
    /// and the table's hashed name are in it.
    fn run(&self, script: &str) -> io::Result<()> {
        let mut child = Command::new(&self.nft)
            .args(["-f", "-"])
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(script.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        if output.status.success() {
            return Ok(());
        }
        Err(io::Error::other(format!(
            "nft: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// `bale_` and 16 hex digits of the sha256 of the app's directory.
fn table_name(app_root: &Path) -> String {
    let hash = hex::encode(Sha256::digest(app_root.as_os_str().as_encoded_bytes()));
    format!("bale_{}", &hash[..16])
}

/// The table holding `redirects`, replacing any table of that name.
fn ruleset(table: &str, redirects: &BTreeSet<Redirect>) -> String {
    let mut output = String::new();
    let mut prerouting = String::new();
    for r in redirects {
        let rule = format!(
            "    fib daddr type local tcp dport {} redirect to :{}\n",
            r.public, r.private
        );
        output.push_str(&rule);
        if r.wildcard {
            prerouting.push_str(&rule);
        }
    }
    let mut script = format!("table ip {table}\ndelete table ip {table}\ntable ip {table} {{\n");
    let _ = write!(
        script,
        "  chain output {{\n    type nat hook output priority -100; policy accept;\n{output}  }}\n"
    );
    let _ = write!(
        script,
        "  chain prerouting {{\n    type nat hook prerouting priority -100; policy accept;\n{prerouting}  }}\n"
    );
    script.push_str("}\n");
    script
}

/// What `/proc/net/tcp` says of some local ports.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Sockets {
    /// Listening ports, with whether one listens on every address (0.0.0.0).
    pub listening: BTreeMap<u16, bool>,
    /// Connections open on each port, as the server's side of them.
    pub open: BTreeMap<u16, u64>,
}

/// Reads the IPv4 sockets on `ports`: which listen (on 127.0.0.1 or every
/// address), and how many connections each has open. With `count_open`
/// false only the listening sockets are read, which the kernel lists first.
pub(crate) fn sockets(ports: &BTreeSet<u16>, count_open: bool) -> io::Result<Sockets> {
    let file = std::fs::File::open("/proc/net/tcp")?;
    parse_sockets(BufReader::new(file), ports, count_open)
}

fn parse_sockets(
    input: impl BufRead,
    ports: &BTreeSet<u16>,
    count_open: bool,
) -> io::Result<Sockets> {
    // sl local_address rem_address st ...: "0100007F:1F90 00000000:0000 0A"
    const LISTEN: &str = "0A";
    // Established, and closed by the client while the service still answers.
    const OPEN: [&str; 2] = ["01", "08"];
    let mut found = Sockets::default();
    for line in input.lines().skip(1) {
        let line = line?;
        let mut fields = line.split_whitespace().skip(1);
        let (Some(local), Some(_remote), Some(state)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if state != LISTEN && !count_open {
            break;
        }
        let Some((address, port)) = local.split_once(':') else {
            continue;
        };
        let Ok(port) = u16::from_str_radix(port, 16) else {
            continue;
        };
        if !ports.contains(&port) {
            continue;
        }
        if state == LISTEN {
            // 127.0.0.1 is "0100007F" (little-endian hex); every address is all zeros.
            let wildcard = address == "00000000";
            if wildcard || address == "0100007F" {
                *found.listening.entry(port).or_default() |= wildcard;
            }
        } else if OPEN.contains(&state) {
            *found.open.entry(port).or_default() += 1;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
   2: 0200007F:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0
   3: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 20 4 30 10 -1
   4: 0100007F:C351 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 5 1 0 20 4 30 10 -1
   5: 0100007F:1F90 0100007F:C352 08 00000000:00000000 00:00000000 00000000     0        0 6 1 0 20 4 30 10 -1
   6: 0100007F:1F90 0100007F:C353 06 00000000:00000000 00:00000000 00000000     0        0 0 0 0 0 0 0 0 0
";

    #[test]
    fn listening_sockets_and_the_connections_a_service_has_open() {
        let ports: BTreeSet<u16> = [0x1F90, 0x1F91, 0x1F92].into();
        let found = parse_sockets(PROC.as_bytes(), &ports, true).expect("parse");
        // 127.0.0.2 is neither loopback's 127.0.0.1 nor every address.
        assert_eq!(found.listening, [(0x1F90, false), (0x1F91, true)].into());
        // The client's side (local port C351) and time-wait are not the service's open connections.
        assert_eq!(found.open, [(0x1F90, 2)].into());
        let listening_only = parse_sockets(PROC.as_bytes(), &ports, false).expect("parse");
        assert!(listening_only.open.is_empty());
        assert_eq!(listening_only.listening, found.listening);
    }

    #[test]
    fn a_ruleset_replaces_the_table_and_lets_other_machines_in_only_to_wildcard_services() {
        let redirects: BTreeSet<Redirect> = [
            Redirect {
                public: 8080,
                private: 40001,
                wildcard: false,
            },
            Redirect {
                public: 9090,
                private: 40002,
                wildcard: true,
            },
        ]
        .into();
        let script = ruleset("bale_0123456789abcdef", &redirects);
        assert!(script.starts_with(
            "table ip bale_0123456789abcdef\ndelete table ip bale_0123456789abcdef\n"
        ));
        let (output, prerouting) = script.split_once("chain prerouting").expect("two chains");
        assert!(output.contains("tcp dport 8080 redirect to :40001"));
        assert!(output.contains("tcp dport 9090 redirect to :40002"));
        assert!(!prerouting.contains("dport 8080"));
        assert!(prerouting.contains("tcp dport 9090 redirect to :40002"));
    }

    #[test]
    fn tables_differ_by_app_directory() {
        let a = table_name(Path::new("/var/lib/bale/apps/web"));
        let b = table_name(Path::new("/tmp/home/apps/web"));
        assert_ne!(a, b);
        assert_eq!(a.len(), "bale_".len() + 16);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'));
    }
}
