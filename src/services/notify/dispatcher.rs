//! One dispatcher per `serve` process: it claims due outbox rows under a lease, delivers
//! each, and acknowledges it. A row whose delivery fails goes back with a later due time.
//! Being killed between the claim and the acknowledgement loses nothing: the lease expires and
//! this or another process claims the row again (at-least-once, with the row's id stable).

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::broadcast;

use super::mail::{self, Mail};
use super::webhooks;
use crate::domain::events::Committed;
use crate::store::outbox::{self, Claimed};
use crate::store::{Db, now_micros};

/// How the dispatcher paces itself.
#[derive(Clone, Copy, Debug)]
pub struct DispatcherConfig {
    /// How long a claim holds a row; a killed process's rows wait this long.
    pub lease: Duration,
    /// How often an idle dispatcher looks for due rows.
    pub poll: Duration,
    /// Rows claimed at once.
    pub batch: i64,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(250),
            batch: 100,
        }
    }
}

pub struct Dispatcher {
    db: Db,
    config: DispatcherConfig,
    /// This process's name in `lease_owner`: fresh per start, so a restarted process never
    /// acknowledges its predecessor's claims.
    owner: String,
    committed: broadcast::Sender<Committed>,
    /// Email, when configured: each row fans out into queued mails.
    mail: Option<Arc<Mail>>,
}

impl Dispatcher {
    pub fn new(db: Db, config: DispatcherConfig, committed: broadcast::Sender<Committed>) -> Self {
        let owner = format!(
            "{}-{:016x}",
            std::process::id(),
            rand::rng().random::<u64>()
        );
        Self {
            db,
            config,
            owner,
            committed,
            mail: None,
        }
    }

    /// Fans each row out into queued mails too.
    pub fn with_mail(mut self, mail: Option<Arc<Mail>>) -> Self {
        self.mail = mail;
        self
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        loop {
            match self.round().await {
                // A full batch: more may be due at once.
                Ok(n) if n >= usize::try_from(self.config.batch).unwrap_or(usize::MAX) => {
                    continue;
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "outbox dispatch failed; retrying"),
            }
            tokio::time::sleep(self.config.poll).await;
        }
    }

    /// Claims and delivers one batch; answers how many rows it claimed.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let claimed =
            outbox::claim(&self.db, &self.owner, self.config.lease, self.config.batch).await?;
        let n = claimed.len();
        for row in claimed {
            self.deliver(row).await?;
        }
        Ok(n)
    }

    async fn deliver(&self, row: Claimed) -> anyhow::Result<()> {
        let Some(event) = row.event else {
            // Written by a newer version: leave it to a process that knows it, much later.
            let later = now_micros().saturating_add(3_600_000_000);
            outbox::retry(&self.db, row.id, &self.owner, later, "unknown event type").await?;
            return Ok(());
        };
        // The row's deliveries and its acknowledgement commit together: a crash before the
        // commit leaves neither, and the row is fanned out again after its lease.
        let mut tx = self.db.begin_write().await?;
        let mut mails = 0;
        if let Some(mail) = &self.mail {
            mails = mail::fan_out(&mut tx, &row, event, mail).await?;
        }
        webhooks::fan_out(&mut tx, &row, event).await?;
        let acked = outbox::ack_in(&mut tx, row.id, &self.owner).await?;
        if !acked {
            // The lease was lost: the process that holds it now fans the row out; dropping
            // the transaction rolls this one's work back.
            return Ok(());
        }
        // Every process's open console pages hear of it (PostgreSQL; on SQLite the one
        // process publishes it below).
        crate::store::changes::announce_ticket(&mut tx, row.ticket_id).await?;
        tx.commit().await?;
        if let Some(mail) = self.mail.as_ref().filter(|_| mails > 0) {
            mail.wake();
        }
        // No subscriber is not an error: nobody is watching.
        let _ = self.committed.send(Committed {
            delivery_id: row.id,
            event_id: row.event_id,
            ticket_id: row.ticket_id,
            event,
        });
        Ok(())
    }
}
