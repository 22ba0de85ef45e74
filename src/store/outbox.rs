//! The transactional outbox: rows appended by the transaction that records a ticket event
//! (`events::record`), claimed by the dispatcher of any `serve` process under a lease,
//! acknowledged when delivered, moved forward when a delivery must be retried.
//!
//! At-least-once: a claim takes a lease (`lease_until`); a process that dies before its
//! acknowledgement leaves the row to be claimed again once the lease has expired. On
//! PostgreSQL several processes claim at once without waiting for one another (`FOR UPDATE
//! SKIP LOCKED`); on SQLite the database's single writer serialises the claims.

use std::time::Duration;

use sqlx::Row;

use super::{Db, StoreResult, Tx, lease, now_micros};
use crate::domain::events::TicketEvent;

/// Appends the notification of event `event_id` inside the transaction that records it.
pub async fn append(
    tx: &mut Tx,
    event_id: i64,
    ticket_id: i64,
    event: TicketEvent,
    at: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (event_id, ticket_id, event_type, created_at, available_at)
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(event_id)
    .bind(ticket_id)
    .bind(event.name())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A row this process holds the lease of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// Stable across attempts: the delivery's id.
    pub id: i64,
    pub event_id: i64,
    pub ticket_id: i64,
    /// `None` for a type this build does not know (written by a newer version).
    pub event: Option<TicketEvent>,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub created_at: i64,
}

/// Due, unleased rows, oldest first, leased to `$1` until `$2`.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM outbox
                          WHERE done_at IS NULL AND available_at <= $3
                            AND (lease_until IS NULL OR lease_until < $3)
                          ORDER BY available_at, id LIMIT $4 ",
            $lock,
            ")
             RETURNING id, event_id, ticket_id, event_type, attempts, created_at"
        )
    };
}
/// Several processes claim at once: each skips the rows another is claiming.
const CLAIM_POSTGRES: &str = claim_sql!("FOR UPDATE SKIP LOCKED");
/// One writer at a time: the transaction's write lock orders the claims.
const CLAIM_SQLITE: &str = claim_sql!("");
/// Its claim, in the steps every leased queue shares (`store::lease`).
const CLAIM: lease::ClaimSql = lease::ClaimSql {
    due: "SELECT id FROM outbox WHERE done_at IS NULL AND available_at <= $1
           AND (lease_until IS NULL OR lease_until < $1) LIMIT 1",
    postgres: CLAIM_POSTGRES,
    sqlite: CLAIM_SQLITE,
};

/// Claims up to `limit` due rows for `owner` for `lease`.
pub async fn claim(db: &Db, owner: &str, lease: Duration, limit: i64) -> StoreResult<Vec<Claimed>> {
    let rows = lease::claim(db, &CLAIM, owner, lease, limit).await?;
    let mut claimed = rows
        .iter()
        .map(|r| {
            let event_type: String = r.try_get("event_type")?;
            Ok(Claimed {
                id: r.try_get("id")?,
                event_id: r.try_get("event_id")?,
                ticket_id: r.try_get("ticket_id")?,
                event: TicketEvent::from_name(&event_type),
                attempts: r.try_get("attempts")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// Marks a claimed row delivered. Answers false when the lease was lost (expired and taken by
/// another process): that one will deliver it too, which at-least-once allows.
pub async fn ack(db: &Db, id: i64, owner: &str) -> StoreResult<bool> {
    let mut tx = db.begin_write().await?;
    let done = ack_in(&mut tx, id, owner).await?;
    tx.commit().await?;
    Ok(done)
}

/// [`ack`] inside the caller's transaction, which also writes what the row fanned out to: the
/// deliveries and the acknowledgement commit together. False when the lease was lost; the
/// caller then rolls back.
pub async fn ack_in(tx: &mut Tx, id: i64, owner: &str) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET done_at = $1, lease_owner = NULL, lease_until = NULL, last_error = NULL
         WHERE id = $2 AND lease_owner = $3 AND done_at IS NULL",
    )
    .bind(now_micros())
    .bind(id)
    .bind(owner)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// Gives a claimed row back, due again at `at` (microseconds), with why it failed.
pub async fn retry(db: &Db, id: i64, owner: &str, at: i64, error: &str) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE outbox SET available_at = $1, lease_owner = NULL, lease_until = NULL,
                           last_error = $2
         WHERE id = $3 AND lease_owner = $4 AND done_at IS NULL",
    )
    .bind(at)
    .bind(error)
    .bind(id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The outbox's state, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub pending: i64,
    pub delivered: i64,
    /// Attempts beyond the first, over all rows.
    pub retries: i64,
    /// When the oldest pending row was written (microseconds), if any is pending.
    pub oldest_pending: Option<i64>,
}

pub async fn stats(db: &Db) -> StoreResult<Stats> {
    let row = sqlx::query(
        "SELECT
           CAST(COALESCE(SUM(CASE WHEN done_at IS NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS pending,
           CAST(COALESCE(SUM(CASE WHEN done_at IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT) AS delivered,
           CAST(COALESCE(SUM(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END), 0) AS BIGINT)
             AS retries,
           MIN(CASE WHEN done_at IS NULL THEN created_at END) AS oldest
         FROM outbox",
    )
    .fetch_one(db.pool())
    .await?;
    Ok(Stats {
        pending: row.try_get("pending")?,
        delivered: row.try_get("delivered")?,
        retries: row.try_get("retries")?,
        oldest_pending: row.try_get("oldest")?,
    })
}
