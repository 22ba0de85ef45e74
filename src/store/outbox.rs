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
    retries: Some(super::retention::totals::OUTBOX_RETRIES),
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
    if done {
        count_delivered(&mut tx, 1).await?;
    }
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

/// [`ack_in`] for many rows in one statement; answers how many were still this owner's (all
/// of them, unless a lease ran out meanwhile: the caller then rolls back).
pub async fn ack_all_in(tx: &mut Tx, ids: &[i64], owner: &str) -> StoreResult<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let marks: Vec<String> = (0..ids.len()).map(|n| format!("${}", n + 3)).collect();
    let sql = format!(
        "UPDATE outbox SET done_at = $1, lease_owner = NULL, lease_until = NULL, last_error = NULL
         WHERE lease_owner = $2 AND done_at IS NULL AND id IN ({})",
        marks.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now_micros())
        .bind(owner);
    for id in ids {
        query = query.bind(*id);
    }
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

/// Counts rows acknowledged in the caller's transaction into the running total (once per
/// batch, see `retention::add`).
pub async fn count_delivered(tx: &mut Tx, n: i64) -> StoreResult<()> {
    super::retention::add(tx, super::retention::totals::OUTBOX_DELIVERED, n).await
}

/// Gives a claimed row back, due again at `at` (microseconds), with why it failed, in the
/// caller's transaction.
pub async fn retry_in(tx: &mut Tx, id: i64, owner: &str, at: i64, error: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE outbox SET available_at = $1, lease_owner = NULL, lease_until = NULL,
                           last_error = $2
         WHERE id = $3 AND lease_owner = $4 AND done_at IS NULL",
    )
    .bind(at)
    .bind(error)
    .bind(id)
    .bind(owner)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks where one row's fan-out begins inside a batch's transaction, so that a failing row
/// can be undone alone ([`rollback_to`]) or kept ([`release`]). On PostgreSQL a failed
/// statement poisons the whole transaction unless it is rolled back to a savepoint.
pub async fn savepoint(tx: &mut Tx) -> StoreResult<()> {
    sqlx::query("SAVEPOINT outbox_row")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Keeps what the row since [`savepoint`] wrote.
pub async fn release(tx: &mut Tx) -> StoreResult<()> {
    sqlx::query("RELEASE SAVEPOINT outbox_row")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Undoes what the row since [`savepoint`] wrote; the batch's other rows stay.
pub async fn rollback_to(tx: &mut Tx) -> StoreResult<()> {
    sqlx::query("ROLLBACK TO SAVEPOINT outbox_row")
        .execute(&mut **tx)
        .await?;
    sqlx::query("RELEASE SAVEPOINT outbox_row")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The outbox's state, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub pending: i64,
    /// Rows acknowledged, ever (a running total: pruning does not lower it).
    pub delivered: i64,
    /// Claims beyond a row's first, ever.
    pub retries: i64,
    /// When the oldest pending row was written (microseconds), if any is pending.
    pub oldest_pending: Option<i64>,
}

pub async fn stats(db: &Db) -> StoreResult<Stats> {
    // Pending rows through their partial index; the totals from their running counts: no
    // scan of the whole table.
    let row = sqlx::query(
        "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest FROM outbox WHERE done_at IS NULL",
    )
    .fetch_one(&mut db.read().await?)
    .await?;
    Ok(Stats {
        pending: row.try_get("pending")?,
        delivered: super::retention::total(db, super::retention::totals::OUTBOX_DELIVERED).await?,
        retries: super::retention::total(db, super::retention::totals::OUTBOX_RETRIES).await?,
        oldest_pending: row.try_get("oldest")?,
    })
}
