//! The agent console's browser sessions (see migration 13): kept as the SHA-256 of the cookie's
//! token, found with their person in one query, ended by sign-out, by age, and with every other
//! session of the person (`revoke_every_session_in` deletes them with the API tokens).

use sqlx::Row;

use super::accounts::role_of;
use super::{CredentialsChange, Db, StoreResult, Tx, now_micros};
use crate::domain::people::Person;

/// How long a session may live: idle since its last request, and since it began.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub idle_micros: i64,
    pub absolute_micros: i64,
}

/// Records a new session of `user_id`.
pub async fn create(db: &Db, token_hash: &str, user_id: i64) -> StoreResult<()> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO console_sessions (token_hash, user_id, created_at, last_seen_at)
         VALUES ($1, $2, $3, $3)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A live session: its id and its person (active, staff or not: the caller decides).
pub struct Found {
    pub id: i64,
    pub person: Person,
    pub active: bool,
    pub last_seen_at: i64,
}

/// The session with this token hash, if it has lived neither too idle nor too long. An expired
/// one is deleted on the way.
pub async fn find(db: &Db, token_hash: &str, life: Lifetimes) -> StoreResult<Option<Found>> {
    let now = now_micros();
    let row = sqlx::query(
        "SELECT s.id, s.created_at, s.last_seen_at, u.id AS user_id, u.email, u.role, u.active
         FROM console_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(&mut db.read().await?)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.try_get("id")?;
    let created_at: i64 = row.try_get("created_at")?;
    let last_seen_at: i64 = row.try_get("last_seen_at")?;
    if now.saturating_sub(last_seen_at) > life.idle_micros
        || now.saturating_sub(created_at) > life.absolute_micros
    {
        end(db, id).await?;
        return Ok(None);
    }
    Ok(Some(Found {
        id,
        person: Person {
            id: row.try_get("user_id")?,
            email: row.try_get("email")?,
            role: role_of(&row.try_get::<String, _>("role")?),
        },
        active: super::flag(&row, "active")?,
        last_seen_at,
    }))
}

/// Marks the session used now (the idle clock starts again).
pub async fn touch(db: &Db, id: i64) -> StoreResult<()> {
    sqlx::query("UPDATE console_sessions SET last_seen_at = $1 WHERE id = $2")
        .bind(now_micros())
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Signs one session out.
pub async fn end(db: &Db, id: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM console_sessions WHERE id = $1")
        .bind(id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Signs every console session of a person out ("sign out everywhere").
pub async fn end_all(db: &Db, user_id: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Ends every console session of a person, inside a credentials change (a deactivation, a new
/// password, a new role), so that none outlives the API tokens revoked with it.
pub async fn end_all_in(tx: &mut Tx<CredentialsChange>, user_id: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM console_sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
