//! Failure notices: a build that failed (not one that was canceled) tells
//! the package's maintainer through bale-notice's channels, configured in
//! the `[notice]` table of `$BALE_HOME/config.toml`.

use bale_home::Home;
use bale_notice::{log_tail, Notice, NoticeConfig};

use crate::ServiceError;

/// The `[notice]` table of the machine's configuration file, when it has one.
pub fn notice_config(home: &Home) -> Result<Option<NoticeConfig>, ServiceError> {
    let Some((path, mut table)) = crate::config::config_table(home)? else {
        return Ok(None);
    };
    let Some(notice) = table.remove("notice") else {
        return Ok(None);
    };
    let config: NoticeConfig =
        notice
            .try_into()
            .map_err(|e: toml::de::Error| ServiceError::Config {
                path,
                message: format!("[notice]: {e}"),
            })?;
    Ok(config.is_enabled().then_some(config))
}

/// What a notice says about one ended build.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub build: i64,
    pub coordinate: String,
    pub status: String,
    pub reason: String,
    pub log: String,
    pub maintainer: Option<String>,
    /// What differs between the two packages of a build that did not reproduce.
    pub differences: Vec<String>,
}

/// Sends the notice in the background; a channel that fails is logged, never fatal.
pub(crate) fn tell(config: &NoticeConfig, public_url: &str, failure: Failure) {
    let notice = Notice {
        coordinate: failure.coordinate,
        build_id: failure.build,
        status: failure.status,
        reason: failure.reason,
        log_tail: log_tail(failure.log.as_bytes()),
        link: format!(
            "{}/api/v1/builds/{}",
            public_url.trim_end_matches('/'),
            failure.build
        ),
        maintainer: failure.maintainer,
        differences: failure.differences,
    };
    let config = config.clone();
    tokio::spawn(async move {
        match bale_notice::send(&config, &notice).await {
            Ok(_) => tracing::info!(build = notice.build_id, "failure notice sent"),
            Err(error) => {
                tracing::warn!(build = notice.build_id, %error, "cannot send the failure notice")
            }
        }
    });
}
