//! Outgoing mail: the [`Mailer`] trait, its SMTP, file and log transports, and
//! the outbox job that sends an [`Email`].
//!
//! Use cases never send mail directly: they call [`enqueue_email`] inside their
//! transaction and the outbox worker's [`SendEmailHandler`] delivers it, retrying
//! while the server is unreachable. Message bodies may hold secrets (reset
//! links, codes): only the recipient and subject are ever logged.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use diesel_async::AsyncPgConnection;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::outbox::{self, JobError, JobHandler, PayloadSecrets};

/// Job kind of an outgoing email.
pub const SEND_EMAIL: &str = "mail.send";

/// One outgoing email; the payload of a [`SEND_EMAIL`] job.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Email {
    /// Recipient, `someone@example.com` or `Name <someone@example.com>`.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body (always sent).
    pub text: String,
    /// Optional HTML alternative.
    pub html: Option<String>,
}

/// Why an email was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Worth trying again: connection refused, timeout, TLS or 4xx reply.
    #[error("{0}")]
    Retryable(String),
    /// The message or configuration is refused for good (5xx reply, bad address).
    #[error("{0}")]
    Permanent(String),
}

impl MailError {
    /// Whether sending again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_))
    }
}

impl From<MailError> for JobError {
    fn from(error: MailError) -> Self {
        match error {
            MailError::Retryable(message) => JobError::Retryable(message),
            MailError::Permanent(message) => JobError::Permanent(message),
        }
    }
}

/// Sends one email.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Delivers `email` (to the server, a file or the log).
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

fn parse_from(from: &str) -> Result<Mailbox, MailError> {
    from.parse::<Mailbox>()
        .map_err(|error| MailError::Permanent(format!("invalid sender address: {error}")))
}

fn parse_recipient(to: &str) -> Result<Mailbox, MailError> {
    to.parse::<Mailbox>()
        .map_err(|error| MailError::Permanent(format!("invalid recipient address: {error}")))
}

/// Builds the RFC 5322 message for `email`.
fn build_message(from: &Mailbox, email: &Email) -> Result<Message, MailError> {
    let to = parse_recipient(&email.to)?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(email.subject.clone())
        .message_id(Some(format!(
            "<{}@{}>",
            Uuid::new_v4().simple(),
            from.email.domain()
        )));
    let message = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            html.clone(),
        )),
        None => builder.singlepart(SinglePart::plain(email.text.clone())),
    };
    message.map_err(|error| MailError::Permanent(format!("cannot build the message: {error}")))
}

/// Sends through an SMTP server.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `scheme://host:port`, without credentials, for logs.
    endpoint: String,
}

impl SmtpMailer {
    /// Connection and command timeout.
    pub const TIMEOUT: Duration = Duration::from_secs(30);

    /// A mailer for `url` sending as `from`. Accepted URLs:
    /// - `smtp://host:port`: plain SMTP, no TLS (local test servers only);
    /// - `smtps://user:pass@host:465`: implicit TLS;
    /// - `smtp+starttls://user:pass@host:587`: STARTTLS, required.
    ///
    /// User and password are percent-decoded. Errors never repeat the URL.
    pub fn new(url: &str, from: &str) -> Result<Self, MailError> {
        let from = parse_from(from)?;
        let invalid = |reason: &str| MailError::Permanent(format!("invalid SMTP URL: {reason}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("expected smtp://, smtps:// or smtp+starttls://"))?;
        let lettre_url = match scheme {
            "smtp" | "smtps" => url.to_owned(),
            "smtp+starttls" => {
                let separator = if rest.contains('?') { '&' } else { '?' };
                format!("smtp://{rest}{separator}tls=required")
            }
            _ => return Err(invalid("expected smtp://, smtps:// or smtp+starttls://")),
        };
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let host_port = authority.rsplit('@').next().unwrap_or_default();
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url)
            .map_err(|error| invalid(&error.to_string()))?
            .timeout(Some(Self::TIMEOUT))
            .build();
        Ok(Self {
            transport,
            from,
            endpoint: format!("{scheme}://{host_port}"),
        })
    }

    /// `scheme://host:port` of the server, without credentials.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("endpoint", &self.endpoint)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// Sorts an SMTP failure: 5xx replies are permanent; 4xx replies, refused
/// connections, timeouts, TLS and protocol trouble are worth retrying.
fn classify_smtp(error: &lettre::transport::smtp::Error) -> MailError {
    if error.is_permanent() {
        MailError::Permanent(format!("SMTP server rejected the message: {error}"))
    } else if error.is_transient() {
        MailError::Retryable(format!("SMTP server deferred the message: {error}"))
    } else if error.is_timeout() {
        MailError::Retryable(format!("SMTP server timed out: {error}"))
    } else {
        MailError::Retryable(format!("SMTP delivery failed: {error}"))
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = build_message(&self.from, email)?;
        self.transport
            .send(message)
            .await
            .map(|_response| ())
            .map_err(|error| classify_smtp(&error))
    }
}

/// Writes each message as an RFC 5322 `.eml` file into a folder (the
/// development default: open them with any mail client).
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    /// A mailer writing into `dir` (created on first send), sending as `from`.
    pub fn new(dir: impl Into<PathBuf>, from: &str) -> Result<Self, MailError> {
        Ok(Self {
            dir: dir.into(),
            from: parse_from(from)?,
        })
    }

    /// The folder messages are written to.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let message = build_message(&self.from, email)?;
        let io = |error: std::io::Error| {
            MailError::Retryable(format!("cannot write the message file: {error}"))
        };
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        // Time-ordered names; written aside, then renamed, so readers never see half a file.
        let name = Uuid::now_v7().simple().to_string();
        let partial = self.dir.join(format!(".{name}.eml.partial"));
        tokio::fs::write(&partial, message.formatted())
            .await
            .map_err(io)?;
        tokio::fs::rename(&partial, self.dir.join(format!("{name}.eml")))
            .await
            .map_err(io)?;
        tracing::info!(to = %email.to, subject = %email.subject, dir = %self.dir.display(), "email written to file");
        Ok(())
    }
}

/// Logs the recipient and subject of each email and drops it (never the body).
/// Refuses an invalid recipient like the real transports do.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        parse_recipient(&email.to)?;
        tracing::info!(to = %email.to, subject = %email.subject, "email (log transport, not sent)");
        Ok(())
    }
}

/// A mailer from configuration: `log`, `file:///some/dir` (or `file:relative/dir`),
/// or an SMTP URL accepted by [`SmtpMailer::new`].
pub fn mailer_from_url(url: &str, from: &str) -> Result<Arc<dyn Mailer>, MailError> {
    if url == "log" || url == "log:" {
        return Ok(Arc::new(LogMailer));
    }
    if let Some(path) = url
        .strip_prefix("file://")
        .or_else(|| url.strip_prefix("file:"))
    {
        if path.is_empty() {
            return Err(MailError::Permanent("file mailer needs a folder".into()));
        }
        return Ok(Arc::new(FileMailer::new(path, from)?));
    }
    Ok(Arc::new(SmtpMailer::new(url, from)?))
}

/// Enqueues `email` in the outbox; call it inside the use case's transaction.
pub async fn enqueue_email(
    conn: &mut AsyncPgConnection,
    email: &Email,
) -> Result<Uuid, diesel::result::Error> {
    let payload = serde_json::to_value(email)
        .map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))?;
    outbox::enqueue(conn, SEND_EMAIL, payload).await
}

/// Runs [`SEND_EMAIL`] jobs with the configured mailer.
#[derive(Clone)]
pub struct SendEmailHandler(pub Arc<dyn Mailer>);

#[async_trait]
impl JobHandler for SendEmailHandler {
    fn kind(&self) -> &'static str {
        SEND_EMAIL
    }

    // Bodies carry reset links, invitations and one-time codes; recipient and
    // subject are what admins need to tell which email a job was.
    fn secrets(&self) -> PayloadSecrets {
        PayloadSecrets::Fields(&["text", "html"])
    }

    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobError> {
        // serde's message names the field, never the payload's values.
        let email = Email::deserialize(payload)
            .map_err(|error| JobError::permanent(format!("invalid email payload: {error}")))?;
        self.0.send(&email).await.map_err(JobError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(html: Option<&str>) -> Email {
        Email {
            to: "Ada <ada@example.com>".into(),
            subject: "Welcome".into(),
            text: "Hello Ada".into(),
            html: html.map(str::to_owned),
        }
    }

    #[test]
    fn messages_carry_headers_and_the_alternative_parts() {
        let from = parse_from("Fluxorae <noreply@fluxorae.test>").expect("from");
        let plain = String::from_utf8(
            build_message(&from, &email(None))
                .expect("build")
                .formatted(),
        )
        .expect("utf8");
        assert!(plain.contains("To: Ada <ada@example.com>"), "{plain}");
        assert!(plain.contains("Subject: Welcome"), "{plain}");
        assert!(plain.contains("@fluxorae.test>"), "{plain}");
        assert!(plain.contains("Hello Ada"), "{plain}");
        let both = String::from_utf8(
            build_message(&from, &email(Some("<p>Hello</p>")))
                .expect("build")
                .formatted(),
        )
        .expect("utf8");
        assert!(both.contains("multipart/alternative"), "{both}");
        assert!(both.contains("<p>Hello</p>"), "{both}");
    }

    #[test]
    fn bad_addresses_are_permanent_failures() {
        let from = parse_from("noreply@fluxorae.test").expect("from");
        let mut bad = email(None);
        bad.to = "not an address".into();
        assert!(!build_message(&from, &bad).expect_err("bad").is_retryable());
        assert!(parse_from("nobody").is_err());
    }

    #[test]
    fn smtp_urls_are_accepted_and_errors_hide_credentials() {
        let from = "noreply@fluxorae.test";
        assert_eq!(
            SmtpMailer::new("smtp://127.0.0.1:2525", from)
                .expect("plain")
                .endpoint(),
            "smtp://127.0.0.1:2525"
        );
        let tls = SmtpMailer::new("smtps://user:s3cret@mail.example.com:465", from).expect("tls");
        assert_eq!(tls.endpoint(), "smtps://mail.example.com:465");
        assert!(!format!("{tls:?}").contains("s3cret"));
        let starttls = SmtpMailer::new("smtp+starttls://user:s3cret@mail.example.com:587", from)
            .expect("starttls");
        assert_eq!(starttls.endpoint(), "smtp+starttls://mail.example.com:587");
        let error =
            SmtpMailer::new("imap://user:s3cret@mail.example.com", from).expect_err("scheme");
        assert!(!error.to_string().contains("s3cret"));
    }

    #[tokio::test]
    async fn the_file_mailer_writes_one_eml_per_message() {
        let dir = std::env::temp_dir().join(format!("fluxorae-mail-{}", Uuid::new_v4().simple()));
        let mailer = FileMailer::new(&dir, "noreply@fluxorae.test").expect("mailer");
        mailer.send(&email(None)).await.expect("send");
        mailer.send(&email(Some("<b>hi</b>"))).await.expect("send");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|entry| entry.expect("entry").path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2);
        assert!(
            files
                .iter()
                .all(|path| path.extension().is_some_and(|ext| ext == "eml"))
        );
        let first = std::fs::read_to_string(&files[0]).expect("read");
        assert!(first.contains("Subject: Welcome") && first.contains("Hello Ada"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn invalid_payloads_fail_for_good() {
        let handler = SendEmailHandler(Arc::new(LogMailer));
        let error = handler
            .handle(&serde_json::json!({"to": "a@example.com"}))
            .await
            .expect_err("missing fields");
        assert!(!error.is_retryable());
        handler
            .handle(&serde_json::to_value(email(None)).expect("json"))
            .await
            .expect("log mailer");
    }
}
