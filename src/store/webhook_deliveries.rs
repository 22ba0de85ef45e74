//! Webhook deliveries: claimed by any process's webhook worker under a lease (the outbox's
//! pattern: `FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite, and a look
//! before claiming so an idle desk takes no write lock), attempted, then recorded as
//! delivered, rescheduled or failed, with one row per attempt.

use std::time::Duration;

use sqlx::Row;

use super::{Db, StoreResult, Tx, lease, now_micros, retention};

/// A delivery this process holds the lease of.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// Stable across attempts: `webhook-id` is `msg_<id>`.
    pub id: i64,
    pub endpoint_id: i64,
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

/// Due, unleased deliveries of enabled endpoints, oldest first, leased to `$1` until `$2`.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2,
                                           attempts = attempts + 1
             WHERE id IN (SELECT d.id FROM webhook_deliveries d
                          JOIN webhook_endpoints e ON e.id = d.endpoint_id
                          WHERE d.state = 'pending' AND d.available_at <= $3
                            AND (d.lease_until IS NULL OR d.lease_until < $3)
                            AND e.enabled = 1
                          ORDER BY d.available_at, d.id LIMIT $4 ",
            $lock,
            ")
             RETURNING id, endpoint_id, payload, attempts"
        )
    };
}
const CLAIM_POSTGRES: &str = claim_sql!("FOR UPDATE OF d SKIP LOCKED");
const CLAIM_SQLITE: &str = claim_sql!("");
/// Its claim, in the steps every leased queue shares (`store::lease`).
const CLAIM: lease::ClaimSql = lease::ClaimSql {
    due: "SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id
         WHERE d.state = 'pending' AND d.available_at <= $1
           AND (d.lease_until IS NULL OR d.lease_until < $1) AND e.enabled = 1 LIMIT 1",
    postgres: CLAIM_POSTGRES,
    sqlite: CLAIM_SQLITE,
    retries: Some(super::retention::totals::WEBHOOK_RETRIES),
};

/// Claims up to `limit` due deliveries for `owner` for `lease`.
pub async fn claim(db: &Db, owner: &str, lease: Duration, limit: i64) -> StoreResult<Vec<Claimed>> {
    let rows = lease::claim(db, &CLAIM, owner, lease, limit).await?;
    let mut claimed = rows
        .iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                endpoint_id: r.try_get("endpoint_id")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// What one attempt came to.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub delivery_id: i64,
    pub endpoint_id: i64,
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// The first 1 KiB of the answer.
    pub response: Option<String>,
    /// What happens next.
    pub next: Next,
}

/// After an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Delivered,
    /// Due again at this time (microseconds).
    RetryAt(i64),
    /// The schedule ran out.
    Failed,
}

/// Records a batch of attempts in one transaction: each attempt's row, its delivery's new
/// state (only while `owner` still holds the lease; a lost lease's attempt is logged all the
/// same), and each endpoint's failing streak. An endpoint failing every attempt for
/// `disable_after` is disabled, with the reason.
pub async fn record(
    db: &Db,
    owner: &str,
    attempts: &[Attempt],
    disable_after: Duration,
) -> StoreResult<()> {
    if attempts.is_empty() {
        return Ok(());
    }
    let now = now_micros();
    let mut tx = db.begin_write().await?;
    let (mut delivered, mut failed) = (0, 0);
    // A few statements per chunk instead of two per attempt: on PostgreSQL every statement is a
    // round trip, and per-attempt statements made the worker the slower half of the pipeline.
    for chunk in attempts.chunks(RECORD_CHUNK) {
        insert_attempts(&mut tx, chunk).await?;
        let (d, f) = settle(&mut tx, owner, chunk, now).await?;
        delivered += d;
        failed += f;
    }
    retention::add(&mut tx, retention::totals::WEBHOOK_DELIVERED, delivered).await?;
    retention::add(&mut tx, retention::totals::WEBHOOK_FAILED, failed).await?;
    // Each endpoint's streak, from its last attempt in this batch.
    let mut last: std::collections::BTreeMap<i64, &Attempt> = std::collections::BTreeMap::new();
    for a in attempts {
        last.insert(a.endpoint_id, a);
    }
    let limit = i64::try_from(disable_after.as_micros()).unwrap_or(i64::MAX);
    for (endpoint, a) in last {
        if a.next == Next::Delivered {
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = NULL
                 WHERE id = $1 AND failing_since IS NOT NULL",
            )
            .bind(endpoint)
            .execute(&mut *tx)
            .await?;
            continue;
        }
        // The first attempt of a batch that failed starts the streak (if none is running).
        let first_failure = attempts
            .iter()
            .filter(|x| x.endpoint_id == endpoint && x.next != Next::Delivered)
            .map(|x| x.at)
            .min()
            .unwrap_or(a.at);
        sqlx::query(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1)
             WHERE id = $2",
        )
        .bind(first_failure)
        .bind(endpoint)
        .execute(&mut *tx)
        .await?;
        let reason = format!(
            "Every attempt failed for {}; the last: {}",
            human(disable_after),
            a.error.as_deref().unwrap_or("no answer")
        );
        sqlx::query(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, disabled_at = $2
             WHERE id = $3 AND enabled = 1 AND failing_since IS NOT NULL
               AND failing_since <= $4",
        )
        .bind(reason)
        .bind(now)
        .bind(endpoint)
        .bind(now.saturating_sub(limit))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Attempts recorded per statement: 6 parameters each, far below either database's limit.
const RECORD_CHUNK: usize = 100;

/// `$a, $b, …` for row `n` of `width` parameters, after `offset` shared ones.
fn marks(n: usize, width: usize, offset: usize) -> String {
    let first = offset + n * width + 1;
    let list: Vec<String> = (first..first + width).map(|i| format!("${i}")).collect();
    format!("({})", list.join(", "))
}

/// The attempts' rows, each only while its delivery exists: an endpoint deleted while its
/// attempt was in flight took its deliveries along, and inserting the attempt would break the
/// foreign key and roll the whole batch back (the other endpoints' attempts would be sent
/// again).
async fn insert_attempts(tx: &mut Tx, chunk: &[Attempt]) -> StoreResult<()> {
    let rows: Vec<String> = (0..chunk.len()).map(|n| marks(n, 6, 0)).collect();
    let sql = format!(
        "WITH v (delivery_id, attempted_at, status_code, error, duration_ms, response) AS
           (VALUES {})
         INSERT INTO webhook_attempts
           (delivery_id, attempted_at, status_code, error, duration_ms, response)
         SELECT v.delivery_id, v.attempted_at, v.status_code, v.error, v.duration_ms, v.response
         FROM v WHERE EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = v.delivery_id)",
        rows.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for a in chunk {
        query = query
            .bind(a.delivery_id)
            .bind(a.at)
            .bind(a.status)
            .bind(a.error.clone())
            .bind(a.duration_ms)
            .bind(a.response.clone());
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Each delivery's new state, only while `owner` still holds its lease (a lost lease's
/// attempt is logged all the same); answers how many were delivered and how many failed.
async fn settle(tx: &mut Tx, owner: &str, chunk: &[Attempt], now: i64) -> StoreResult<(i64, i64)> {
    let rows: Vec<String> = (0..chunk.len()).map(|n| marks(n, 5, 1)).collect();
    let sql = format!(
        // The new values' names differ from the table's: SQLite's RETURNING takes only
        // unqualified names, which PostgreSQL would find ambiguous otherwise.
        "WITH v (v_id, v_state, v_available_at, v_done_at, v_error) AS (VALUES {})
         UPDATE webhook_deliveries
         SET state = v_state, available_at = COALESCE(v_available_at, available_at),
             done_at = v_done_at, last_error = v_error, lease_owner = NULL, lease_until = NULL
         FROM v
         WHERE id = v_id AND lease_owner = $1
         RETURNING state",
        rows.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner);
    for a in chunk {
        let (state, available_at, done_at) = match a.next {
            Next::Delivered => ("delivered", None, Some(now)),
            Next::RetryAt(at) => ("pending", Some(at), None),
            Next::Failed => ("failed", None, Some(now)),
        };
        query = query
            .bind(a.delivery_id)
            .bind(state)
            .bind(available_at)
            .bind(done_at)
            .bind(a.error.clone());
    }
    let (mut delivered, mut failed) = (0, 0);
    for row in query.fetch_all(&mut **tx).await? {
        match row.try_get::<String, _>("state")?.as_str() {
            "delivered" => delivered += 1,
            "failed" => failed += 1,
            _ => {}
        }
    }
    Ok((delivered, failed))
}

/// `3d`, `2h`, `90s`, `250ms`: a duration as a person would write it.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A delivery as the admin API lists it, with its attempts.
#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub id: i64,
    pub event_id: i64,
    pub event_type: String,
    pub state: String,
    pub created_at: i64,
    /// When the next attempt is due, for a pending delivery.
    pub available_at: i64,
    pub attempts: Vec<AttemptRow>,
}

#[derive(Clone, Debug)]
pub struct AttemptRow {
    pub at: i64,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub response: Option<String>,
}

/// An endpoint's deliveries, newest first, at most `limit`, older than `before` if given.
pub async fn for_endpoint(
    db: &Db,
    endpoint_id: i64,
    limit: i64,
    before: Option<i64>,
) -> StoreResult<Vec<DeliveryRow>> {
    let rows = sqlx::query(
        "SELECT id, event_id, event_type, state, created_at, available_at
         FROM webhook_deliveries WHERE endpoint_id = $1 AND id < $2
         ORDER BY id DESC LIMIT $3",
    )
    .bind(endpoint_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&mut db.read().await?)
    .await?;
    let mut deliveries = rows
        .iter()
        .map(|r| {
            Ok(DeliveryRow {
                id: r.try_get("id")?,
                event_id: r.try_get("event_id")?,
                event_type: r.try_get("event_type")?,
                state: r.try_get("state")?,
                created_at: r.try_get("created_at")?,
                available_at: r.try_get("available_at")?,
                attempts: Vec::new(),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let (Some(newest), Some(oldest)) = (deliveries.first(), deliveries.last()) else {
        return Ok(deliveries);
    };
    let attempts = sqlx::query(
        "SELECT a.delivery_id, a.attempted_at, a.status_code, a.error, a.duration_ms, a.response
         FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
         WHERE d.endpoint_id = $1 AND a.delivery_id BETWEEN $2 AND $3
         ORDER BY a.id",
    )
    .bind(endpoint_id)
    .bind(oldest.id)
    .bind(newest.id)
    .fetch_all(&mut db.read().await?)
    .await?;
    for r in attempts {
        let delivery: i64 = r.try_get("delivery_id")?;
        if let Some(d) = deliveries.iter_mut().find(|d| d.id == delivery) {
            d.attempts.push(AttemptRow {
                at: r.try_get("attempted_at")?,
                status: r.try_get("status_code")?,
                error: r.try_get("error")?,
                duration_ms: r.try_get("duration_ms")?,
                response: r.try_get("response")?,
            });
        }
    }
    Ok(deliveries)
}

/// What a redelivery request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redelivery {
    /// Due again now, with a fresh schedule.
    Queued,
    /// An attempt holds the lease: it is being sent right now (or its process died and the
    /// lease has not run out yet). Nothing changed; asking again once it ended works.
    InFlight,
    /// The endpoint has no such delivery.
    NotFound,
}

/// Sends a delivery of this endpoint again, at once, with a fresh retry schedule (and the
/// same `webhook-id`), unless an attempt of it is in flight: clearing that attempt's lease
/// would let a worker claim and send it a second time while the first is still on the wire.
pub async fn redeliver(db: &Db, endpoint_id: i64, delivery_id: i64) -> StoreResult<Redelivery> {
    let now = now_micros();
    let mut tx = db.begin_write().await?;
    let queued = sqlx::query(
        "UPDATE webhook_deliveries
         SET state = 'pending', attempts = 0, available_at = $1, done_at = NULL,
             lease_owner = NULL, lease_until = NULL
         WHERE id = $2 AND endpoint_id = $3 AND (lease_until IS NULL OR lease_until < $1)",
    )
    .bind(now)
    .bind(delivery_id)
    .bind(endpoint_id)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let answer = if queued {
        Redelivery::Queued
    } else {
        let exists = sqlx::query(
            "SELECT 1 AS hit FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2",
        )
        .bind(delivery_id)
        .bind(endpoint_id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if exists {
            Redelivery::InFlight
        } else {
            Redelivery::NotFound
        }
    };
    tx.commit().await?;
    Ok(answer)
}

/// The deliveries' state, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub pending: i64,
    /// Running totals (pruning does not lower them; a redelivery counts again).
    pub delivered: i64,
    pub failed: i64,
    /// Attempts beyond a delivery's first, ever.
    pub retries: i64,
    /// When the oldest pending delivery was created (microseconds), if any is pending.
    pub oldest_pending: Option<i64>,
}

pub async fn stats(db: &Db) -> StoreResult<Stats> {
    // Pending deliveries through their partial index; the rest from the running totals.
    let row = sqlx::query(
        "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest
         FROM webhook_deliveries WHERE state = 'pending'",
    )
    .fetch_one(&mut db.read().await?)
    .await?;
    Ok(Stats {
        pending: row.try_get("pending")?,
        delivered: retention::total(db, retention::totals::WEBHOOK_DELIVERED).await?,
        failed: retention::total(db, retention::totals::WEBHOOK_FAILED).await?,
        retries: retention::total(db, retention::totals::WEBHOOK_RETRIES).await?,
        oldest_pending: row.try_get("oldest")?,
    })
}
