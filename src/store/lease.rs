//! The one way a queue's due rows are claimed under a lease (the outbox, the mail queue, the
//! webhook deliveries): look before claiming, so that an idle worker takes no write lock (on
//! SQLite every request's write would queue behind it), then claim in one write transaction.
//! Each queue keeps its own SQL; this owns the steps and the lease arithmetic.

use std::time::Duration;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Db, StoreResult, now_micros};

/// A queue's claim statements. `due` takes `$1` = now and answers a row if any is due;
/// `postgres` / `sqlite` take `$1` owner, `$2` lease end, `$3` now, `$4` limit and return the
/// claimed rows (PostgreSQL's with `SKIP LOCKED`, so processes claim without waiting).
pub struct ClaimSql {
    pub due: &'static str,
    pub postgres: &'static str,
    pub sqlite: &'static str,
    /// The running total (`retention::totals`) that counts claims beyond a row's first, for
    /// the queues `/metrics` reports on.
    pub retries: Option<&'static str>,
}

/// Claims up to `limit` due rows for `owner` until now + `lease`; empty when none is due.
pub async fn claim(
    db: &Db,
    sql: &ClaimSql,
    owner: &str,
    lease: Duration,
    limit: i64,
) -> StoreResult<Vec<AnyRow>> {
    let now = now_micros();
    let until = now.saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX));
    let due = sqlx::query(sql.due)
        .bind(now)
        .fetch_optional(&mut db.read().await?)
        .await?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    let statement = match db.backend() {
        Backend::Postgres => sql.postgres,
        Backend::Sqlite => sql.sqlite,
    };
    let mut tx = db.begin_write().await?;
    let rows = sqlx::query(statement)
        .bind(owner)
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    if let Some(total) = sql.retries {
        // Every claim after a row's first is a retry (after a failure, or a lost lease).
        let mut retries = 0;
        for row in &rows {
            if row.try_get::<i64, _>("attempts")? > 1 {
                retries += 1;
            }
        }
        super::retention::add(&mut tx, total, retries).await?;
    }
    tx.commit().await?;
    Ok(rows)
}
