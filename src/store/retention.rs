//! Notifications that are done do not stay forever: delivered and failed mails, webhook
//! deliveries (with their attempts) and acknowledged outbox rows older than the retention
//! (`SUPPORTDESK_NOTIFY_RETENTION`) are deleted by the dispatcher, oldest first, a small batch
//! per transaction so that no write waits long behind it. Pending work is never pruned, and
//! neither are the tickets' mail thread roots (`mail_threads`), which replies are matched on.
//!
//! The newest row of each table is always kept: SQLite gives a new row the highest id plus
//! one, so deleting the highest would hand its id (a delivery's `webhook-id`, a receiver's
//! key for dropping duplicates) to the next row.
//!
//! `/metrics` reads running totals (`notify_totals`), counted in the transaction that records
//! each outcome, so that it never counts whole tables and pruning never lowers a total.

use crate::store::Conn;
use sqlx::Row;

use super::{Db, StoreResult};

/// The running totals' names.
pub mod totals {
    pub const OUTBOX_DELIVERED: &str = "outbox_delivered";
    pub const OUTBOX_RETRIES: &str = "outbox_retries";
    pub const WEBHOOK_DELIVERED: &str = "webhook_delivered";
    pub const WEBHOOK_FAILED: &str = "webhook_failed";
    pub const WEBHOOK_RETRIES: &str = "webhook_retries";
    pub const EMAIL_DELIVERED: &str = "email_delivered";
    pub const EMAIL_FAILED: &str = "email_failed";
    pub const EMAIL_RETRIES: &str = "email_retries";
}

/// Adds `n` to a running total, in the caller's transaction (once per batch: on PostgreSQL
/// the row stays locked until the commit, so the processes' batches take turns only there).
pub async fn add(conn: &mut Conn, name: &str, n: i64) -> StoreResult<()> {
    if n == 0 {
        return Ok(());
    }
    sqlx::query("UPDATE notify_totals SET n = n + $1 WHERE name = $2")
        .bind(n)
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// A running total (0 for one never counted).
pub async fn total(db: &Db, name: &str) -> StoreResult<i64> {
    let row = sqlx::query("SELECT n FROM notify_totals WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut db.read().await?)
        .await?;
    Ok(row.map(|r| r.try_get("n")).transpose()?.unwrap_or(0))
}

/// What one pass deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub mails: u64,
    pub webhook_deliveries: u64,
    pub outbox: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.mails + self.webhook_deliveries + self.outbox
    }
}

/// Deletes up to `batch` done rows of each kind created before `before` (microseconds), each
/// kind in its own short transaction. The caller repeats while a pass deletes a full batch.
pub async fn prune(db: &Db, before: i64, batch: i64) -> StoreResult<Pruned> {
    let mut pruned = Pruned::default();

    let mut tx = db.begin_write().await?;
    pruned.mails = sqlx::query(
        "DELETE FROM mail_messages WHERE id IN
           (SELECT id FROM mail_messages WHERE state <> 'pending' AND created_at < $1
              AND id < (SELECT MAX(id) FROM mail_messages)
            ORDER BY created_at LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;

    let mut tx = db.begin_write().await?;
    let ids: Vec<i64> = sqlx::query(
        "SELECT id FROM webhook_deliveries WHERE state <> 'pending' AND created_at < $1
           AND id < (SELECT MAX(id) FROM webhook_deliveries)
         ORDER BY created_at LIMIT $2",
    )
    .bind(before)
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| r.try_get("id"))
    .collect::<Result<_, _>>()?;
    if !ids.is_empty() {
        let marks: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
        let list = marks.join(", ");
        // Attempts first: SQLite applies ON DELETE CASCADE only with foreign keys on.
        for sql in [
            format!("DELETE FROM webhook_attempts WHERE delivery_id IN ({list})"),
            format!("DELETE FROM webhook_deliveries WHERE id IN ({list}) AND state <> 'pending'"),
        ] {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                query = query.bind(*id);
            }
            pruned.webhook_deliveries = query.execute(&mut *tx).await?.rows_affected();
        }
    }
    tx.commit().await?;

    // An outbox row goes once nothing refers to it: its mails are pruned (or it had none).
    // Its webhook deliveries need not be: they keep only its id, to stay unique per row.
    let mut tx = db.begin_write().await?;
    pruned.outbox = sqlx::query(
        "DELETE FROM outbox WHERE id IN
           (SELECT o.id FROM outbox o
            WHERE o.done_at IS NOT NULL AND o.created_at < $1
              AND o.id < (SELECT MAX(id) FROM outbox)
              AND NOT EXISTS (SELECT 1 FROM mail_messages m WHERE m.outbox_id = o.id)
            ORDER BY o.created_at LIMIT $2)",
    )
    .bind(before)
    .bind(batch)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(pruned)
}
