//! `$BALE_HOME/config.toml` as the service reads it: the `[server]` table
//! (here) and the `[notice]` table (notify.rs).

use bale_home::Home;

use crate::ServiceError;

/// The `[server]` table: how `bale serve` treats its readers.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Every read (packages, the tree, builds, logs, search, dashboard,
    /// metrics) needs a token of any scope; health and the API document stay open.
    #[serde(default)]
    pub private: bool,
    /// Every build is checked for reproducibility, as `bale submit --check`
    /// asks for one build: built twice, in fresh environments, and compared.
    #[serde(default)]
    pub check_reproducible: bool,
}

/// The `[server]` table of the machine's configuration file (defaults when absent).
pub fn server_config(home: &Home) -> Result<ServerConfig, ServiceError> {
    let Some((path, mut table)) = config_table(home)? else {
        return Ok(ServerConfig::default());
    };
    let Some(server) = table.remove("server") else {
        return Ok(ServerConfig::default());
    };
    server
        .try_into()
        .map_err(|e: toml::de::Error| ServiceError::Config {
            path,
            message: format!("[server]: {e}"),
        })
}

/// The configuration file as a table, when there is one.
pub(crate) fn config_table(
    home: &Home,
) -> Result<Option<(std::path::PathBuf, toml::Table)>, ServiceError> {
    let path = home.config_path();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ServiceError::io(&path, e)),
    };
    match text.parse::<toml::Table>() {
        Ok(table) => Ok(Some((path, table))),
        Err(e) => Err(ServiceError::Config {
            path,
            message: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home_with(config: &str) -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        std::fs::write(home.config_path(), config).unwrap();
        (dir, home)
    }

    #[test]
    fn a_server_is_open_unless_configured_private() {
        let (_dir, home) = home_with("isolation = \"none\"\n");
        assert!(!server_config(&home).unwrap().private);
        let (_dir, home) = home_with("[server]\nprivate = true\n");
        assert!(server_config(&home).unwrap().private);
    }

    #[test]
    fn builds_are_checked_for_reproducibility_only_when_configured() {
        let (_dir, home) = home_with("[server]\nprivate = true\n");
        assert!(!server_config(&home).unwrap().check_reproducible);
        let (_dir, home) = home_with("[server]\ncheck_reproducible = true\n");
        assert!(server_config(&home).unwrap().check_reproducible);
    }

    #[test]
    fn a_misspelt_server_key_is_refused() {
        let (_dir, home) = home_with("[server]\nprivat = true\n");
        let error = server_config(&home).unwrap_err().to_string();
        assert!(
            error.contains("[server]") && error.contains("privat"),
            "{error}"
        );
    }
}
