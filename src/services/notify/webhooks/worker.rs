//! One webhook worker per `serve` process: it claims due deliveries under a lease, posts them
//! concurrently, and records the batch's attempts in one transaction (delivered, due again
//! per the retry schedule, or failed once it runs out). It wakes when the dispatcher
//! publishes a committed event, and otherwise polls for retries that came due.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rand::Rng;
use tokio::sync::broadcast;

use super::{Sender, message_id};
use crate::domain::events::Committed;
use crate::services::notify::schedule::RetrySchedule;
use crate::services::pace::Load;
use crate::store::webhook_deliveries::{self as deliveries, Attempt, Claimed, Next};
use crate::store::{Db, now_micros, webhooks};

/// How the worker paces itself.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// How long a claim holds a delivery; a killed process's deliveries wait this long. Longer
    /// than an attempt may take ([`super::sender::TIMEOUT`]), or a slow endpoint is sent twice.
    pub lease: Duration,
    /// How often an idle worker looks for retries that came due.
    pub poll: Duration,
    /// Deliveries claimed at once.
    pub batch: i64,
    /// Attempts in flight at once.
    pub concurrency: usize,
    pub schedule: RetrySchedule,
    /// An endpoint failing every attempt this long is disabled.
    pub disable_after: Duration,
}

pub struct Worker {
    db: Db,
    sender: Arc<Sender>,
    config: WorkerConfig,
    /// This process's name in `lease_owner`, fresh per start.
    owner: String,
    /// The requests in flight, to give way to when the server is saturated.
    load: Load,
}

impl Worker {
    pub fn new(db: Db, sender: Arc<Sender>, config: WorkerConfig) -> Self {
        let owner = format!(
            "hooks-{}-{:016x}",
            std::process::id(),
            rand::rng().random::<u64>()
        );
        Self {
            db,
            sender,
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

    /// Runs until the task is dropped; `committed` wakes it when new deliveries may exist.
    pub async fn run(self, mut committed: broadcast::Receiver<Committed>) {
        let full = usize::try_from(self.config.batch).unwrap_or(usize::MAX);
        loop {
            match self.load.paced(self.round()).await {
                Ok(n) if n >= full => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "webhook delivery round failed; retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.poll) => {}
                woken = committed.recv() => {
                    if matches!(woken, Err(broadcast::error::RecvError::Closed)) {
                        // No dispatcher any more: polling alone from now on.
                        committed = broadcast::channel(1).1;
                    }
                    // One round serves every event committed meanwhile.
                    while committed.try_recv().is_ok() {}
                }
            }
        }
    }

    /// Claims, sends and records one batch; answers how many deliveries it claimed.
    pub async fn round(&self) -> anyhow::Result<usize> {
        let claimed =
            deliveries::claim(&self.db, &self.owner, self.config.lease, self.config.batch).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let mut ids: Vec<i64> = claimed.iter().map(|c| c.endpoint_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let targets: HashMap<i64, webhooks::Target> = webhooks::targets(&self.db, &ids)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let n = claimed.len();
        let attempts: Vec<Attempt> = futures_util::stream::iter(claimed)
            .map(|delivery| self.attempt(delivery, &targets))
            .buffer_unordered(self.config.concurrency.max(1))
            .filter_map(|a| async move { a })
            .collect()
            .await;
        deliveries::record(&self.db, &self.owner, &attempts, self.config.disable_after).await?;
        Ok(n)
    }

    /// One attempt; `None` when the endpoint was deleted meanwhile (its deliveries went too).
    async fn attempt(
        &self,
        delivery: Claimed,
        targets: &HashMap<i64, webhooks::Target>,
    ) -> Option<Attempt> {
        let target = targets.get(&delivery.endpoint_id)?;
        let at = now_micros();
        let outcome = self
            .sender
            .send(
                &target.url,
                &target.secret,
                &message_id(delivery.id),
                &delivery.payload,
            )
            .await;
        let next = if outcome.delivered() {
            Next::Delivered
        } else {
            let retry = usize::try_from(delivery.attempts).unwrap_or(usize::MAX);
            match self.config.schedule.wait_before(retry) {
                Some(wait) => Next::RetryAt(
                    now_micros()
                        .saturating_add(i64::try_from(wait.as_micros()).unwrap_or(i64::MAX)),
                ),
                None => Next::Failed,
            }
        };
        if let Some(error) = &outcome.error {
            tracing::debug!(delivery = delivery.id, endpoint = target.id, %error, "webhook attempt failed");
        }
        Some(Attempt {
            delivery_id: delivery.id,
            endpoint_id: delivery.endpoint_id,
            at,
            status: outcome.status.map(i64::from),
            error: outcome.error,
            duration_ms: i64::try_from(outcome.duration.as_millis()).unwrap_or(i64::MAX),
            response: outcome.response,
            next,
        })
    }
}
