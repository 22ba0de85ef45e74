//! One dispatcher per `serve` process: it claims due outbox rows under a lease, delivers
//! each, and acknowledges it. A row whose delivery fails goes back with a later due time.
//! Being killed between the claim and the acknowledgement loses nothing: the lease expires and
//! this or another process claims the row again (at-least-once, with the row's id stable).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::broadcast;

use super::mail::{self, Mail};
use super::webhooks;
use crate::domain::events::Committed;
use crate::services::pace::Load;
use crate::store::outbox::{self, Claimed};
use crate::store::{Db, now_micros, retention};

/// How the dispatcher paces itself.
#[derive(Clone, Copy, Debug)]
pub struct DispatcherConfig {
    /// How long a claim holds a row; a killed process's rows wait this long.
    pub lease: Duration,
    /// How often an idle dispatcher looks for due rows.
    pub poll: Duration,
    /// Rows claimed at once.
    pub batch: i64,
    /// Done notifications older than this are deleted (`None`: kept forever).
    pub retention: Option<Duration>,
    /// How often the dispatcher prunes.
    pub prune_every: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            poll: Duration::from_millis(250),
            batch: 100,
            retention: Some(DEFAULT_RETENTION),
            prune_every: Duration::from_secs(60),
        }
    }
}

/// `SUPPORTDESK_NOTIFY_RETENTION`'s default, 30 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 86_400);
/// Rows of each kind deleted per pruning transaction: short enough that no request's write
/// waits long behind it.
const PRUNE_BATCH: i64 = 500;
/// Pruning transactions per kind and pass, at most: a large backlog (retention shortened, a
/// long stop) is worked off over several passes instead of holding the dispatcher.
const PRUNE_PASSES: usize = 20;

/// Reads `SUPPORTDESK_NOTIFY_RETENTION`: one duration (`30d`, `12h`, …) or `off`.
pub fn parse_retention(text: &str) -> anyhow::Result<Option<Duration>> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    super::schedule::RetrySchedule::parse(text)
        .ok()
        .filter(|_| !text.contains(','))
        .and_then(|s| s.wait_exact(1))
        .filter(|d| !d.is_zero())
        .map(Some)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "SUPPORTDESK_NOTIFY_RETENTION: `{text}` is not one duration such as 30d or 12h, \
                 nor off"
            )
        })
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
    /// The requests in flight, to give way to when the server is saturated.
    load: Load,
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
            load: Load::default(),
        }
    }

    /// Gives way to this load's requests when they saturate the server ([`Load::paced`]).
    pub fn with_load(mut self, load: Load) -> Self {
        self.load = load;
        self
    }

    /// Fans each row out into queued mails too.
    pub fn with_mail(mut self, mail: Option<Arc<Mail>>) -> Self {
        self.mail = mail;
        self
    }

    /// Runs until the task is dropped: dispatching, and beside it (on the same task, taking
    /// turns at each await) pruning, so that a long prune of a large backlog never stalls the
    /// notifications waiting to go out.
    pub async fn run(self) {
        tokio::join!(self.dispatch_forever(), self.prune_forever());
    }

    async fn dispatch_forever(&self) {
        loop {
            match self.load.paced(self.round()).await {
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

    async fn prune_forever(&self) {
        if self.config.retention.is_none() {
            return;
        }
        loop {
            if let Err(err) = self.prune().await {
                tracing::warn!(error = %err, "pruning done notifications failed; retrying later");
            }
            tokio::time::sleep(self.config.prune_every).await;
        }
    }

    /// Claims one batch and fans it out in **one** write transaction (one commit per batch,
    /// not per row: on SQLite every commit waits its turn at the single writer, and a commit
    /// per row made the dispatcher fall behind the requests it serves). Answers how many rows
    /// it claimed.
    ///
    /// First the whole batch at once, acknowledged by one statement, with each event type's
    /// subscribers read once: few round trips per row, which is what limits it on PostgreSQL.
    /// Should a row fail (or a lease have run out), that transaction is rolled back and the
    /// batch is done again row by row, each inside a savepoint: the failing row is undone
    /// alone and given back with the outbox's backoff, and the others go on.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let claimed =
            outbox::claim(&self.db, &self.owner, self.config.lease, self.config.batch).await?;
        let n = claimed.len();
        if n == 0 {
            return Ok(0);
        }
        let done = match self.all_at_once(&claimed).await? {
            Some(done) => done,
            None => self.row_by_row(&claimed).await?,
        };
        if let Some(mail) = self.mail.as_ref().filter(|_| done.mails > 0) {
            mail.wake();
        }
        for (row, event) in done.rows {
            // No subscriber is not an error: nobody is watching.
            let _ = self.committed.send(Committed {
                delivery_id: row.id,
                event_id: row.event_id,
                ticket_id: row.ticket_id,
                event,
            });
        }
        Ok(n)
    }

    /// The batch in one transaction without savepoints; `None` (all rolled back) when a row
    /// failed or a lease was lost, for [`Self::row_by_row`] to sort out.
    async fn all_at_once(&self, claimed: &[Claimed]) -> anyhow::Result<Option<Done>> {
        let mut tx = self.db.begin_write().await?;
        let mut subscribers = webhooks::Subscribers::default();
        let contexts = match subscribers.contexts_for(&mut tx, claimed).await {
            Ok(contexts) => contexts,
            Err(err) => {
                tracing::debug!(error = %err, "reading the batch failed; doing it row by row");
                tx.rollback().await?;
                return Ok(None);
            }
        };
        let mut done = Done::default();
        for row in claimed {
            let Some(event) = row.event else {
                unknown_type(&mut tx, row, &self.owner).await?;
                continue;
            };
            match self
                .fan_out(&mut tx, row, event, &mut subscribers, &contexts)
                .await
            {
                Ok(mails) => {
                    done.mails += mails;
                    done.rows.push((row.clone(), event));
                }
                Err(err) => {
                    tracing::debug!(outbox = row.id, error = %err,
                                    "a row of the batch failed; doing the batch row by row");
                    tx.rollback().await?;
                    return Ok(None);
                }
            }
        }
        let ids: Vec<i64> = done.rows.iter().map(|(row, _)| row.id).collect();
        let acked = outbox::ack_all_in(&mut tx, &ids, &self.owner).await?;
        if acked != u64::try_from(ids.len()).unwrap_or(u64::MAX) {
            // A lease ran out meanwhile: its row is another process's now.
            tx.rollback().await?;
            return Ok(None);
        }
        outbox::count_delivered(&mut tx, i64::try_from(ids.len()).unwrap_or(i64::MAX)).await?;
        announce(&mut tx, &done).await?;
        tx.commit().await?;
        Ok(Some(done))
    }

    /// The batch in one transaction, each row inside a savepoint.
    async fn row_by_row(&self, claimed: &[Claimed]) -> anyhow::Result<Done> {
        let mut tx = self.db.begin_write().await?;
        let mut subscribers = webhooks::Subscribers::default();
        let mut done = Done::default();
        for row in claimed {
            let Some(event) = row.event else {
                unknown_type(&mut tx, row, &self.owner).await?;
                continue;
            };
            outbox::savepoint(&mut tx).await?;
            // Row by row reads each row's context alone, so that a row that cannot be read
            // fails by itself.
            let fanned = match self
                .fan_out(&mut tx, row, event, &mut subscribers, &HashMap::new())
                .await
            {
                Ok(mails) => outbox::ack_in(&mut tx, row.id, &self.owner)
                    .await
                    .map(|acked| acked.then_some(mails))
                    .map_err(anyhow::Error::from),
                Err(err) => Err(err),
            };
            match fanned {
                Ok(Some(mails)) => {
                    outbox::release(&mut tx).await?;
                    done.mails += mails;
                    done.rows.push((row.clone(), event));
                }
                // The lease was lost: the process that holds it now fans the row out.
                Ok(None) => outbox::rollback_to(&mut tx).await?,
                Err(err) => {
                    // A poison row (or a fault that will pass): its work is undone, the rest
                    // of the batch commits, and it comes back after the backoff. Should the
                    // connection itself be gone, the next statement fails too and the whole
                    // batch comes back after the lease instead.
                    outbox::rollback_to(&mut tx).await?;
                    // The subscribers read may have been what failed: read them afresh.
                    subscribers = webhooks::Subscribers::default();
                    let wait = backoff(row.attempts);
                    tracing::warn!(outbox = row.id, event = row.event_id, attempts = row.attempts,
                                   error = %err, retry_in = ?wait,
                                   "outbox row could not be fanned out; retrying later");
                    let at = now_micros()
                        .saturating_add(i64::try_from(wait.as_micros()).unwrap_or(i64::MAX));
                    let reason = crate::domain::mail::one_line(&format!("{err:#}"));
                    outbox::retry_in(&mut tx, row.id, &self.owner, at, &reason).await?;
                }
            }
        }
        let acked = i64::try_from(done.rows.len()).unwrap_or(i64::MAX);
        outbox::count_delivered(&mut tx, acked).await?;
        announce(&mut tx, &done).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// Deletes done notifications older than the retention, a small batch per transaction,
    /// until none is left or [`PRUNE_PASSES`] batches of some kind were full; answers what it
    /// deleted.
    pub async fn prune(&self) -> anyhow::Result<retention::Pruned> {
        let mut all = retention::Pruned::default();
        let Some(keep) = self.config.retention else {
            return Ok(all);
        };
        let before =
            now_micros().saturating_sub(i64::try_from(keep.as_micros()).unwrap_or(i64::MAX));
        for _ in 0..PRUNE_PASSES {
            let pass = retention::prune(&self.db, before, PRUNE_BATCH).await?;
            all.mails += pass.mails;
            all.webhook_deliveries += pass.webhook_deliveries;
            all.outbox += pass.outbox;
            let full = u64::try_from(PRUNE_BATCH).unwrap_or(u64::MAX);
            if pass.mails < full && pass.webhook_deliveries < full && pass.outbox < full {
                break;
            }
        }
        if all.total() > 0 {
            tracing::info!(
                mails = all.mails,
                webhook_deliveries = all.webhook_deliveries,
                outbox = all.outbox,
                "pruned done notifications"
            );
        }
        Ok(all)
    }

    /// One row's deliveries in the batch's transaction; answers how many mails it queued.
    async fn fan_out(
        &self,
        tx: &mut crate::store::Tx,
        row: &Claimed,
        event: crate::domain::events::TicketEvent,
        subscribers: &mut webhooks::Subscribers,
        contexts: &HashMap<i64, crate::store::webhooks::EventContext>,
    ) -> anyhow::Result<usize> {
        let mut mails = 0;
        if let Some(mail) = &self.mail {
            mails = mail::fan_out(tx, row, event, mail).await?;
        }
        let endpoints = subscribers.of(tx, event).await?;
        webhooks::fan_out(tx, row, event, &endpoints, contexts).await?;
        Ok(mails)
    }
}

/// What a batch came to: the rows fanned out and acknowledged, and the mails queued.
#[derive(Default)]
struct Done {
    rows: Vec<(Claimed, crate::domain::events::TicketEvent)>,
    mails: usize,
}

/// A row of a type this build does not know (written by a newer version): left to a process
/// that knows it, much later.
async fn unknown_type(tx: &mut crate::store::Tx, row: &Claimed, owner: &str) -> anyhow::Result<()> {
    let later = now_micros().saturating_add(3_600_000_000);
    outbox::retry_in(tx, row.id, owner, later, "unknown event type").await?;
    Ok(())
}

/// The outbox's backoff for a row whose fan-out failed: 1 s doubling per attempt, at most
/// 10 minutes, with up to 20 % jitter so that rows failing together do not come back together.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let base = Duration::from_secs(1)
        .saturating_mul(1u32 << exponent)
        .min(Duration::from_secs(600));
    base.mul_f64(1.0 + rand::rng().random_range(0.0..0.2))
}

/// Every process's open console pages hear of the batch's tickets when it commits (PostgreSQL
/// `NOTIFY`; on SQLite the one process publishes through `committed` after the commit).
async fn announce(tx: &mut crate::store::Tx, done: &Done) -> anyhow::Result<()> {
    let mut tickets: Vec<i64> = done.rows.iter().map(|(row, _)| row.ticket_id).collect();
    tickets.sort_unstable();
    tickets.dedup();
    for ticket in tickets {
        crate::store::changes::announce_ticket(tx, ticket).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_and_stops_at_ten_minutes() {
        let first = backoff(1);
        assert!(first >= Duration::from_secs(1) && first < Duration::from_millis(1200));
        let third = backoff(3);
        assert!(third >= Duration::from_secs(4) && third < Duration::from_millis(4800));
        assert!(backoff(40) <= Duration::from_secs(720));
        assert!(backoff(40) >= Duration::from_secs(600));
        assert!(backoff(0) >= Duration::from_secs(1));
    }

    #[test]
    fn retention_is_one_duration_or_off() {
        assert_eq!(
            parse_retention("30d").ok().flatten(),
            Some(DEFAULT_RETENTION)
        );
        assert_eq!(
            parse_retention("90m").ok().flatten(),
            Some(Duration::from_secs(5400))
        );
        assert!(matches!(parse_retention("off"), Ok(None)));
        for bad in ["", "30", "1d,2d", "0s", "forever"] {
            assert!(parse_retention(bad).is_err(), "{bad}");
        }
    }
}
