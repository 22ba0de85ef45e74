//! Settings administrators change at run time, shared by every server process through the
//! database. A setting never stored falls back to the process's configured default.

use sqlx::{AnyConnection, Row};

use super::{Db, StoreResult, now_micros};

pub const OPEN_TICKET_LIMIT: &str = "open_ticket_limit";

/// The stored value of a setting, if an administrator set one.
pub async fn get(conn: &mut AnyConnection, name: &str) -> StoreResult<Option<String>> {
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
pub async fn bump(conn: &mut AnyConnection, name: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO settings (name, value, updated_at) VALUES ($1, '1', $2)
         ON CONFLICT (name) DO UPDATE
         SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT), updated_at = $2",
    )
    .bind(name)
    .bind(now_micros())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The open-ticket limit in force: the administrator's setting, else `default`.
pub async fn open_ticket_limit(conn: &mut AnyConnection, default: i64) -> StoreResult<i64> {
    Ok(limit_from(get(conn, OPEN_TICKET_LIMIT).await?, default))
}

/// The open-ticket limit from the stored setting, if there is a usable one.
pub fn limit_from(stored: Option<String>, default: i64) -> i64 {
    stored.and_then(|v| v.parse().ok()).unwrap_or(default)
}
