//! Outgoing mail: SMTP (lettre) to a relay, or, on the embedded defaults, `.eml` files in an
//! outbox directory that a local operator can read. Message contents are never logged.

use std::path::PathBuf;

use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Mail could not be built or delivered.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("could not build the message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    #[error("outbox: {0}")]
    Io(#[from] std::io::Error),
}

/// An attachment (e.g. a calendar invitation).
#[derive(Debug, Clone)]
pub struct MailAttachment {
    pub filename: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

/// Sends mail.
#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.transport {
            Transport::Smtp(_) => "Mailer(smtp)",
            Transport::Outbox(_) => "Mailer(outbox)",
        })
    }
}

/// Build an SMTP transport from `smtp://`, `smtps://` URLs (lettre's syntax).
pub fn transport_from_url(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
        return Err(MailError::Smtp(
            "the URL must start with smtp:// or smtps://".into(),
        ));
    }
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| MailError::Smtp(e.to_string()))?
        .build())
}

impl Mailer {
    pub fn smtp(url: &str, from: &str) -> Result<Mailer, MailError> {
        Ok(Mailer {
            from: parse_mailbox(from)?,
            transport: Transport::Smtp(transport_from_url(url)?),
        })
    }

    pub fn outbox(dir: PathBuf, from: &str) -> Result<Mailer, MailError> {
        std::fs::create_dir_all(&dir)?;
        Ok(Mailer {
            from: parse_mailbox(from)?,
            transport: Transport::Outbox(dir),
        })
    }

    /// Send a plain-text message, with optional attachments.
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        attachments: &[MailAttachment],
    ) -> Result<(), MailError> {
        let builder = Message::builder()
            .from(self.from.clone())
            .to(parse_mailbox(to)?)
            .subject(subject);
        let body = SinglePart::plain(text.to_string());
        let message = if attachments.is_empty() {
            builder.singlepart(body)
        } else {
            let mut mp = MultiPart::mixed().singlepart(body);
            for a in attachments {
                let ct = ContentType::parse(&a.content_type)
                    .map_err(|e| MailError::Build(e.to_string()))?;
                mp = mp.singlepart(Attachment::new(a.filename.clone()).body(a.body.clone(), ct));
            }
            builder.multipart(mp)
        }
        .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(t) => {
                t.send(message)
                    .await
                    .map_err(|e| MailError::Smtp(e.to_string()))?;
            }
            Transport::Outbox(dir) => {
                let name = format!(
                    "{}-{}.eml",
                    assent_shared::Timestamp::now().0,
                    assent_shared::ids::UserId::random()
                );
                let tmp = dir.join(format!(".{name}.tmp"));
                tokio::fs::write(&tmp, message.formatted()).await?;
                tokio::fs::rename(&tmp, dir.join(name)).await?;
            }
        }
        Ok(())
    }
}

fn parse_mailbox(s: &str) -> Result<Mailbox, MailError> {
    s.parse().map_err(|_| MailError::Address(s.to_string()))
}
