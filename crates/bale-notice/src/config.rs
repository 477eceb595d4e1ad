//! Where notices go, as read from the service's configuration file.

use serde::Deserialize;

/// The channels a notice is sent through; each is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeConfig {
    /// A URL that receives the notice as a JSON POST.
    #[serde(default)]
    pub webhook: Option<url::Url>,
    /// An SMTP server that mails the notice.
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
}

/// An SMTP server and the addresses to use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The server's host name (also checked against its TLS certificate).
    pub host: String,
    /// The server's port (default 587, submission).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The sender, e.g. `bale <bale@example.org>`.
    pub from: String,
    /// Who gets every notice (the package's maintainer is added when known).
    #[serde(default)]
    pub to: Vec<String>,
    /// The login, when the server wants one (only sent over TLS unless `starttls = false`).
    #[serde(default)]
    pub username: Option<String>,
    /// The password for `username`.
    #[serde(default)]
    pub password: Option<String>,
    /// Require STARTTLS (default true); false sends in plain text, for a relay on localhost.
    #[serde(default = "default_starttls")]
    pub starttls: bool,
}

fn default_port() -> u16 {
    587
}

fn default_starttls() -> bool {
    true
}

impl NoticeConfig {
    /// Whether any channel is configured.
    pub fn is_enabled(&self) -> bool {
        self.webhook.is_some() || self.smtp.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_toml_shape_reads() {
        #[derive(Deserialize)]
        struct File {
            notice: NoticeConfig,
        }
        let file: File = toml::from_str(
            r#"
            [notice]
            webhook = "https://chat.example.org/hooks/bale"

            [notice.smtp]
            host = "smtp.example.org"
            from = "bale <bale@example.org>"
            to = ["team@example.org"]
            username = "bale"
            password = "secret"
            "#,
        )
        .unwrap();
        let smtp = file.notice.smtp.unwrap();
        assert_eq!(
            file.notice.webhook.unwrap().as_str(),
            "https://chat.example.org/hooks/bale"
        );
        assert_eq!(
            (smtp.host.as_str(), smtp.port, smtp.starttls),
            ("smtp.example.org", 587, true)
        );
        assert_eq!(smtp.to, ["team@example.org"]);
        assert_eq!(smtp.username.as_deref(), Some("bale"));
    }

    #[test]
    fn an_empty_config_sends_nothing_and_a_misspelt_key_is_an_error() {
        let empty: NoticeConfig = toml::from_str("").unwrap();
        assert!(!empty.is_enabled());
        let err = toml::from_str::<NoticeConfig>("webhok = \"http://x\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("webhok"), "{err}");
        assert!(toml::from_str::<NoticeConfig>("webhook = \"not a url\"").is_err());
    }
}
