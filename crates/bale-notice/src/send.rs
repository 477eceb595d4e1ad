//! Sending a notice through every configured channel.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Serialize;

use crate::config::{NoticeConfig, SmtpConfig};
use crate::error::NoticeError;
use crate::notice::Notice;

/// How long one channel may take; a slow receiver must not hold up the service.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The channels that delivered a notice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The webhook answered 2xx.
    pub webhook: bool,
    /// The SMTP server accepted the mail.
    pub email: bool,
}

/// The webhook's JSON: the notice's fields and a one-line `text`, which chat
/// webhooks (Slack, Mattermost) show as the message.
#[derive(Serialize)]
struct WebhookBody<'a> {
    #[serde(flatten)]
    notice: &'a Notice,
    text: String,
}

/// Sends the notice through every configured channel, both tried even when one
/// fails. `Ok` when each configured channel delivered (nothing configured is
/// `Ok` with nothing delivered); otherwise [`NoticeError::Undelivered`] with
/// each channel's error and what did get through.
pub async fn send(config: &NoticeConfig, notice: &Notice) -> Result<Delivered, NoticeError> {
    let webhook = async {
        match &config.webhook {
            Some(url) => Some(post(url, notice).await),
            None => None,
        }
    };
    let email = async {
        match &config.smtp {
            Some(smtp) => Some(mail(smtp, notice).await),
            None => None,
        }
    };
    let (webhook, email) = tokio::join!(webhook, email);
    let mut delivered = Delivered::default();
    let mut failures = Vec::new();
    match webhook {
        Some(Ok(())) => delivered.webhook = true,
        Some(Err(e)) => failures.push(e),
        None => {}
    }
    match email {
        Some(Ok(())) => delivered.email = true,
        Some(Err(e)) => failures.push(e),
        None => {}
    }
    if failures.is_empty() {
        Ok(delivered)
    } else {
        Err(NoticeError::Undelivered {
            delivered,
            failures,
        })
    }
}

/// POSTs the notice as JSON to the webhook.
async fn post(url: &url::Url, notice: &Notice) -> Result<(), NoticeError> {
    let fail = |reason: String| NoticeError::Webhook {
        url: url.to_string(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let body = WebhookBody {
        notice,
        text: format!("{}: {}", notice.subject(), notice.reason),
    };
    let response = client
        .post(url.clone())
        .json(&body)
        .send()
        .await
        .map_err(|e| fail(error_chain(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let text = response.text().await.unwrap_or_default();
    let said: String = text.chars().take(200).collect();
    Err(fail(format!(
        "it answered {status}{}",
        if said.trim().is_empty() {
            String::new()
        } else {
            format!(": {}", said.trim())
        }
    )))
}

/// Mails the notice to the configured addresses and the package's maintainer.
async fn mail(smtp: &SmtpConfig, notice: &Notice) -> Result<(), NoticeError> {
    let message = message(smtp, notice)?;
    let fail = |reason: String| NoticeError::Email {
        host: smtp.host.clone(),
        port: smtp.port,
        reason,
    };
    let builder = if smtp.starttls {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
            .map_err(|e| fail(error_chain(&e)))?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
    };
    let mut builder = builder.port(smtp.port).timeout(Some(TIMEOUT));
    if let Some(username) = &smtp.username {
        builder = builder.credentials(Credentials::new(
            username.clone(),
            smtp.password.clone().unwrap_or_default(),
        ));
    }
    builder
        .build()
        .send(message)
        .await
        .map(drop)
        .map_err(|e| fail(error_chain(&e)))
}

/// The e-mail: plain text, from the configured sender to `to` and the maintainer.
fn message(smtp: &SmtpConfig, notice: &Notice) -> Result<Message, NoticeError> {
    let mailbox = |address: &str| {
        address
            .parse::<Mailbox>()
            .map_err(|e| NoticeError::Address {
                address: address.to_owned(),
                reason: e.to_string(),
            })
    };
    let mut builder = Message::builder()
        .from(mailbox(&smtp.from)?)
        .subject(notice.subject());
    let mut recipients: Vec<&str> = smtp.to.iter().map(String::as_str).collect();
    if let Some(maintainer) = notice
        .maintainer
        .as_deref()
        .filter(|m| !m.trim().is_empty())
    {
        recipients.push(maintainer);
    }
    if recipients.is_empty() {
        return Err(NoticeError::NoRecipient);
    }
    for recipient in recipients {
        builder = builder.to(mailbox(recipient)?);
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(notice.text())
        .map_err(|e| NoticeError::Address {
            address: smtp.from.clone(),
            reason: e.to_string(),
        })
}

/// An error and its causes on one line: the outermost alone often says only "error sending request".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
