//! The machines of a multi-host deploy, as ssh destinations.

use std::fmt;

use crate::RemoteError;

/// One machine: an ssh destination (`name`, `user@name`, `ssh://user@name:port`
/// or a `Host` alias of the user's ssh config).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Host(String);

impl Host {
    /// The destination as given to `ssh`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses `h1,h2,…`: destinations separated by commas, each named once.
pub fn parse_hosts(text: &str) -> Result<Vec<Host>, RemoteError> {
    let mut hosts: Vec<Host> = Vec::new();
    for entry in text.split(',').map(str::trim) {
        if entry.is_empty() {
            // Tolerates a trailing comma, as in a list built by a script.
            continue;
        }
        check(entry)?;
        let host = Host(entry.to_owned());
        if hosts.contains(&host) {
            return Err(RemoteError::DuplicateHost {
                host: entry.to_owned(),
            });
        }
        hosts.push(host);
    }
    if hosts.is_empty() {
        return Err(RemoteError::NoHosts);
    }
    Ok(hosts)
}

fn check(entry: &str) -> Result<(), RemoteError> {
    let bad = |reason| {
        Err(RemoteError::BadHost {
            host: entry.to_owned(),
            reason,
        })
    };
    // ssh would read a leading dash as one of its own options.
    if entry.starts_with('-') {
        return bad("a host cannot start with `-`");
    }
    if entry.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("a host cannot contain spaces or control characters");
    }
    if entry.contains(['\'', '"', '`', '$', ';', '&', '|', '<', '>', '\\']) {
        return bad("a host cannot contain quotes or shell characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        parse_hosts(text)
            .expect("hosts")
            .iter()
            .map(|h| h.to_string())
            .collect()
    }

    #[test]
    fn hosts_are_split_on_commas_and_trimmed_in_order() {
        assert_eq!(
            names("web2, web1,deploy@db:22 ,ssh://u@h:2222,"),
            ["web2", "web1", "deploy@db:22", "ssh://u@h:2222"]
        );
    }

    #[test]
    fn an_empty_list_is_refused() {
        assert!(matches!(parse_hosts(" , ,"), Err(RemoteError::NoHosts)));
    }

    #[test]
    fn a_host_named_twice_is_refused() {
        let err = parse_hosts("a,b,a").unwrap_err();
        assert!(err.to_string().contains("`a` is named twice"), "{err}");
    }

    #[test]
    fn a_host_that_ssh_would_read_as_an_option_is_refused() {
        let err = parse_hosts("web1,-oProxyCommand=sh").unwrap_err();
        assert!(err.to_string().contains("cannot start with `-`"), "{err}");
    }

    #[test]
    fn a_host_with_spaces_or_shell_characters_is_refused() {
        assert!(parse_hosts("web 1").is_err());
        assert!(parse_hosts("web1;reboot").is_err());
    }
}
