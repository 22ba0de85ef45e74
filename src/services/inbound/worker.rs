//! The inbound worker, one per `serve` process: claims kept mails under a lease, processes
//! each (`process`), and sends the desk's explanatory answers through the notification mail
//! transport. A mail whose processing keeps failing is quarantined after a few attempts, so it
//! never blocks the others.

use std::time::Duration;

use lettre::AsyncTransport;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use rand::Rng;

use super::process::{self, Context, Done};
use crate::store::inbound::{self as kept, ClaimedReply};
use crate::store::now_micros;

/// Attempts before a mail whose processing fails is quarantined.
pub const MAX_ATTEMPTS: i64 = 5;
/// Attempts before an answer is given up.
const MAX_REPLY_ATTEMPTS: i64 = 5;
const BATCH: i64 = 8;

pub struct Worker {
    ctx: Context,
    owner: String,
    lease: Duration,
    poll: Duration,
}

impl Worker {
    pub fn new(ctx: Context, lease: Duration, poll: Duration) -> Self {
        let owner = format!(
            "inbound-{}-{:016x}",
            std::process::id(),
            rand::rng().random::<u64>()
        );
        Self {
            ctx,
            owner,
            lease,
            poll,
        }
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        loop {
            match self.round().await {
                Ok(n) if n >= usize::try_from(BATCH).unwrap_or(usize::MAX) => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "inbound round failed; retrying"),
            }
            if let Err(err) = self.send_answers().await {
                tracing::warn!(error = %err, "inbound answers not sent; retrying");
            }
            tokio::select! {
                () = tokio::time::sleep(self.poll) => {}
                () = self.ctx.inbound.wake.notified() => {}
            }
        }
    }

    /// Processes one batch; answers how many mails it claimed.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let claimed = kept::claim(&self.ctx.db, &self.owner, self.lease, BATCH).await?;
        for mail in &claimed {
            match process::process(&self.ctx, &self.owner, mail).await {
                Ok(Done::LeaseLost) => {
                    tracing::warn!(inbound = mail.id, "lease lost; left to its new holder");
                }
                Ok(done) => tracing::info!(inbound = mail.id, ?done, "mail processed"),
                Err(err) => {
                    tracing::warn!(inbound = mail.id, attempt = mail.attempts, error = %err,
                                   "mail not processed; will retry");
                    let error = crate::domain::mail::one_line(&err.to_string());
                    kept::give_back(
                        &self.ctx.db,
                        mail.id,
                        &self.owner,
                        mail.attempts,
                        MAX_ATTEMPTS,
                        &error,
                    )
                    .await?;
                }
            }
        }
        Ok(claimed.len())
    }

    /// Sends the due explanatory answers.
    pub async fn send_answers(&self) -> anyhow::Result<()> {
        let Some(mail) = &self.ctx.mail else {
            return Ok(());
        };
        let due = kept::claim_replies(&self.ctx.db, &self.owner, self.lease, 16).await?;
        for reply in due {
            let (state, retry_at, error) = match message(mail.from(), &reply) {
                Err(err) => ("failed", None, Some(err)),
                Ok(message) => match mail.transport().send(message).await {
                    Ok(_) => ("delivered", None, None),
                    Err(err) if err.is_permanent() || reply.attempts >= MAX_REPLY_ATTEMPTS => {
                        ("failed", None, Some(err.to_string()))
                    }
                    Err(err) => {
                        let wait = 60_000_000_i64.saturating_mul(reply.attempts.max(1));
                        (
                            "pending",
                            Some(now_micros().saturating_add(wait)),
                            Some(err.to_string()),
                        )
                    }
                },
            };
            let error = error.map(|e| crate::domain::mail::one_line(&e));
            kept::settle_reply(&self.ctx.db, reply.id, state, retry_at, error.as_deref()).await?;
        }
        Ok(())
    }
}

/// An explanatory answer as a message: plain text, answering the mail, marked automatic so
/// that auto-responders stay quiet.
fn message(from: &Mailbox, reply: &ClaimedReply) -> Result<Message, String> {
    let to: Mailbox = reply
        .recipient
        .parse()
        .map_err(|e| format!("invalid address: {e}"))?;
    let auto = HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        "auto-replied".to_owned(),
    );
    let mut builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(crate::domain::mail::one_line(&reply.subject))
        .message_id(Some(reply.message_id.clone()))
        .raw_header(auto);
    if !reply.in_reply_to.is_empty() {
        builder = builder
            .in_reply_to(reply.in_reply_to.clone())
            .references(reply.in_reply_to.clone());
    }
    builder
        .body(reply.body_text.clone())
        .map_err(|e| format!("cannot build the message: {e}"))
}
