//! Webhooks: fan-out of each dispatched outbox row into one delivery per subscribed, enabled
//! endpoint (in the dispatcher's transaction), and the worker that posts the deliveries,
//! signed the Standard Webhooks way, with retries on the retry schedule.

pub mod payload;
pub mod sender;
pub mod worker;

pub use sender::Sender;
pub use worker::{Worker, WorkerConfig};

use std::collections::HashMap;

use crate::domain::events::TicketEvent;
use crate::store::outbox::Claimed;
use crate::store::webhooks::EventContext;
use crate::store::{StoreError, StoreResult, Tx, webhooks};

/// `webhook-id` of a delivery: the same on every attempt.
pub fn message_id(delivery_id: i64) -> String {
    format!("msg_{delivery_id}")
}

/// One delivery per endpoint of `endpoints` (the enabled ones subscribed to `event`, which
/// the dispatcher reads once per batch: [`Subscribers`]), in the dispatcher's transaction,
/// each with the body built once here (every retry sends the same bytes). Nothing is read
/// when no endpoint listens.
///
/// `known` holds contexts read ahead for the batch ([`webhooks::event_contexts`]); an event
/// not in it is read here.
pub async fn fan_out(
    tx: &mut Tx,
    row: &Claimed,
    event: TicketEvent,
    endpoints: &[i64],
    known: &HashMap<i64, EventContext>,
) -> StoreResult<()> {
    if endpoints.is_empty() {
        return Ok(());
    }
    let read;
    let context = match known.get(&row.event_id) {
        Some(context) => context,
        None => match webhooks::event_context(tx, row.event_id).await? {
            Some(context) => {
                read = context;
                &read
            }
            // The event's ticket is gone (never, today: tickets are not deleted).
            None => return Ok(()),
        },
    };
    let body = payload::body(event, context)
        .map_err(|err| StoreError::Other(sqlx::Error::Encode(err.into())))?;
    webhooks::add_deliveries(tx, row.id, row.event_id, event, &body, endpoints).await
}

/// The endpoints subscribed to each event, read once per transaction (a batch's rows mostly
/// share a few event types: one query each instead of one per row).
#[derive(Default)]
pub struct Subscribers(std::collections::HashMap<TicketEvent, Vec<i64>>);

impl Subscribers {
    /// Reads ahead, in a few queries, the contexts of the rows whose event someone listens to.
    pub async fn contexts_for(
        &mut self,
        tx: &mut Tx,
        rows: &[Claimed],
    ) -> StoreResult<HashMap<i64, EventContext>> {
        let mut wanted = Vec::new();
        for row in rows {
            if let Some(event) = row.event
                && !self.of(tx, event).await?.is_empty()
            {
                wanted.push(row.event_id);
            }
        }
        webhooks::event_contexts(tx, &wanted).await
    }

    pub async fn of(&mut self, tx: &mut Tx, event: TicketEvent) -> StoreResult<Vec<i64>> {
        if let Some(known) = self.0.get(&event) {
            return Ok(known.clone());
        }
        let endpoints = webhooks::subscribed(tx, event).await?;
        self.0.insert(event, endpoints.clone());
        Ok(endpoints)
    }
}

/// The webhook settings in force, parsed once at start.
#[derive(Clone, Debug)]
pub struct Settings {
    pub schedule: crate::services::notify::schedule::RetrySchedule,
    pub disable_after: std::time::Duration,
    pub allow_private: bool,
}

impl Settings {
    /// Refuses a bad schedule or duration before the server creates or prints anything.
    pub fn from_config(config: &crate::config::WebhookConfig) -> anyhow::Result<Self> {
        use crate::services::notify::schedule::RetrySchedule;
        let schedule = RetrySchedule::parse(&config.webhook_retry_schedule)
            .map_err(|e| anyhow::anyhow!("SUPPORTDESK_WEBHOOK_RETRY_SCHEDULE: {e}"))?;
        let disable_after = RetrySchedule::parse(&config.webhook_disable_after)
            .ok()
            .and_then(|s| s.wait_exact(1))
            .filter(|_| !config.webhook_disable_after.contains(','))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "SUPPORTDESK_WEBHOOK_DISABLE_AFTER: `{}` is not one duration such as 3d or 12h",
                    config.webhook_disable_after
                )
            })?;
        Ok(Self {
            schedule,
            disable_after,
            allow_private: config.webhook_allow_private,
        })
    }
}
