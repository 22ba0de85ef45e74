//! Settings administrators change at run time, shared by every server process through the
//! database. A setting never stored falls back to the process's configured default.

use crate::store::Conn;
use std::time::Duration;

use sqlx::Row;

use super::memo::Seen;
use super::{Db, StoreResult, now_micros};

pub const OPEN_TICKET_LIMIT: &str = "open_ticket_limit";

/// The change counters (see `memo` and `tx`): every commit of a credentials change bumps the
/// first, every commit of a catalog change the second, and each server reads both every
/// refresh interval.
pub const AUTH_EPOCH: &str = "auth_epoch";
pub const CATALOG_VERSION: &str = "catalog_version";

/// The stored value of a setting, if an administrator set one.
pub async fn get(conn: &mut Conn, name: &str) -> StoreResult<Option<String>> {
    let row = sqlx::query("SELECT value FROM settings WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok(r.try_get("value")?)).transpose()
}

pub async fn set(db: &Db, name: &str, value: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(now_micros())
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Adds one to a counter setting (starting at 1), in the caller's transaction.
pub async fn bump(conn: &mut Conn, name: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO settings (name, value, updated_at) VALUES ($1, '1', $2)
         ON CONFLICT (name) DO UPDATE
         SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT), updated_at = $2",
    )
    .bind(name)
    .bind(now_micros())
    .execute(&mut *conn)
    .await?;
    // Announced to the other processes on commit (PostgreSQL), with the bump itself.
    super::changes::announce(conn, name).await?;
    Ok(())
}

/// The open-ticket limit in force: the administrator's setting, else `default`.
pub async fn open_ticket_limit(conn: &mut Conn, default: i64) -> StoreResult<i64> {
    Ok(limit_from(get(conn, OPEN_TICKET_LIMIT).await?, default))
}

/// The open-ticket limit from the stored setting, if there is a usable one.
pub fn limit_from(stored: Option<String>, default: i64) -> i64 {
    stored.and_then(|v| v.parse().ok()).unwrap_or(default)
}

impl Db {
    /// Keeps this process's memory honest: reads the change counters every `interval`, and at
    /// once whenever `wake` is notified (a change announced by `LISTEN/NOTIFY`), until the pool
    /// closes. A zero interval turns answering from memory off.
    pub fn spawn_refresh(&self, interval: Duration, wake: std::sync::Arc<tokio::sync::Notify>) {
        if interval.is_zero() {
            return;
        }
        let db = self.clone();
        // Memory is trusted for a few intervals after a successful read, and no longer: if
        // the database stops answering, revocations made meanwhile are not missed for long.
        let fresh_for = interval.saturating_mul(4).max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut seen = Seen::default();
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !db.pool().is_closed() {
                tokio::select! {
                    _ = ticks.tick() => {}
                    () = wake.notified() => {}
                }
                match read_counters(&db).await {
                    Ok((auth, catalog)) => db.memo().observe(&mut seen, auth, catalog, fresh_for),
                    Err(err) => tracing::debug!(error = %err, "cannot read the change counters"),
                }
            }
        });
    }
}

async fn read_counters(db: &Db) -> StoreResult<(Option<String>, Option<String>)> {
    let rows = sqlx::query("SELECT name, value FROM settings WHERE name = $1 OR name = $2")
        .bind(AUTH_EPOCH)
        .bind(CATALOG_VERSION)
        .fetch_all(&mut db.read().await?)
        .await?;
    let (mut auth, mut catalog) = (None, None);
    for row in rows {
        let name: String = row.try_get("name")?;
        let value: Option<String> = Some(row.try_get("value")?);
        if name == AUTH_EPOCH {
            auth = value;
        } else {
            catalog = value;
        }
    }
    Ok((auth, catalog))
}
