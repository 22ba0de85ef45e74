//! The mail worker, one per `serve` process: it claims due queued mails under a lease, sends
//! each to its one recipient (so a recipient the server refuses stops nobody else), and
//! records the outcome. A temporary failure (4xx, a server down, a timeout) is retried on the
//! schedule; a permanent refusal (5xx), or the schedule's end, fails the mail and leaves
//! "Email to <address> could not be delivered: <reason>" on the ticket's trail for staff.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lettre::AsyncTransport;
use rand::Rng;

use super::{Mail, transport};
use crate::services::pace::Load;
use crate::store::mail::{self as queue, Claimed, Outcome};
use crate::store::{Db, now_micros};

/// Mails sent at once, each on its own pooled connection (`transport::CONNECTIONS`). Most of
/// a mail's time is waiting, not work: lettre 0.11.23 leaves Nagle's algorithm on and writes
/// the message's closing `.` apart from its body, so every mail waits out the relay's delayed
/// ACK (40 ms on Linux) before the relay answers. Four at once made at most ~90 mails/s to a
/// relay that takes mail at once (bench/README, "Notifications on"); sixteen overlap those
/// waits. (lettre's pull request #1159 sets TCP_NODELAY; not in a release yet.)
const CONCURRENCY: usize = transport::CONNECTIONS as usize;
/// Longest reason kept from a server's answer.
const REASON_MAX_CHARS: usize = 300;

/// How the worker paces itself.
#[derive(Clone, Copy, Debug)]
pub struct WorkerConfig {
    /// How long a claim holds a mail; longer than one SMTP conversation may take.
    pub lease: Duration,
    /// How often an idle worker looks for due mails (retries come due without a wake).
    pub poll: Duration,
    pub batch: i64,
}

pub struct MailWorker {
    db: Db,
    mail: Arc<Mail>,
    config: WorkerConfig,
    owner: String,
    /// The requests in flight, to give way to when the server is saturated.
    load: Load,
}

/// What one attempt came to.
enum Attempt {
    Sent,
    /// Worth another attempt.
    Temporary(String),
    /// No attempt will change it.
    Permanent(String),
}

impl MailWorker {
    pub fn new(db: Db, mail: Arc<Mail>, config: WorkerConfig) -> Self {
        let owner = format!(
            "mail-{}-{:016x}",
            std::process::id(),
            rand::rng().random::<u64>()
        );
        Self {
            db,
            mail,
            config,
            owner,
            load: Load::default(),
        }
    }

    /// Gives way to this load's requests when they saturate the server ([`Load::paced`]).
    pub fn with_load(mut self, load: Load) -> Self {
        self.load = load;
        self
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        loop {
            match self.load.paced(self.round()).await {
                Ok(n) if n >= usize::try_from(self.config.batch).unwrap_or(usize::MAX) => {
                    continue;
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "mail worker round failed; retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.poll) => {}
                () = self.mail.wake.notified() => {}
            }
        }
    }

    /// Claims and sends one batch, then records what became of each mail; answers how many
    /// mails it claimed.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let claimed =
            queue::claim(&self.db, &self.owner, self.config.lease, self.config.batch).await?;
        let n = claimed.len();
        let outcomes: Vec<(Claimed, Outcome)> = futures_util::stream::iter(claimed)
            .map(|mail| async move {
                let outcome = self.outcome(&mail).await;
                (mail, outcome)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        queue::settle(&self.db, &self.owner, &outcomes).await?;
        Ok(n)
    }

    /// Sends one mail and decides what follows: done, a retry on the schedule, or failure.
    async fn outcome(&self, mail: &Claimed) -> Outcome {
        let reason = match self.send(mail).await {
            Attempt::Sent => return Outcome::Delivered,
            Attempt::Permanent(reason) => reason,
            Attempt::Temporary(reason) => {
                let retry = usize::try_from(mail.attempts).unwrap_or(usize::MAX);
                if let Some(wait) = self.mail.schedule.wait_before(retry) {
                    tracing::info!(mail = mail.id, attempt = mail.attempts, error = %reason,
                                   "mail not sent; will retry");
                    let wait = i64::try_from(wait.as_micros()).unwrap_or(i64::MAX);
                    return Outcome::Retry {
                        at: now_micros().saturating_add(wait),
                        error: reason,
                    };
                }
                reason
            }
        };
        tracing::warn!(mail = mail.id, ticket = mail.ticket_id, attempts = mail.attempts,
                       error = %reason, "mail could not be delivered");
        Outcome::Failed { error: reason }
    }

    async fn send(&self, mail: &Claimed) -> Attempt {
        let message =
            match transport::message(&self.mail.from, self.mail.reply_to(mail.ticket_id), mail) {
                Ok(message) => message,
                Err(err) => return Attempt::Permanent(err.0),
            };
        match self.mail.transport.send(message).await {
            Ok(_) => Attempt::Sent,
            Err(err) => {
                let reason = reason(&err);
                if err.is_permanent() {
                    Attempt::Permanent(reason)
                } else {
                    Attempt::Temporary(reason)
                }
            }
        }
    }
}

/// The server's answer (or the connection's error) as one short line.
fn reason(err: &lettre::transport::smtp::Error) -> String {
    // lettre's text carries the code and the server's words (or the I/O error).
    let mut text = crate::domain::mail::one_line(&err.to_string());
    if text.contains("STARTTLS is not supported") {
        // The setting asks for TLS (`?tls=required`, or a login, which never goes in clear).
        text = format!(
            "the SMTP server does not offer STARTTLS, and TLS is required (a login is never \
             sent unencrypted; use smtps:// or a server with STARTTLS): {text}"
        );
    }
    if text.chars().count() > REASON_MAX_CHARS {
        text = text.chars().take(REASON_MAX_CHARS).collect::<String>() + "…";
    }
    text
}
