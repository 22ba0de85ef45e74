//! Sessions: refresh tokens (rotated on use, in families), revocation, and the record of failed
//! sign-ins that throttling counts.

use sqlx::Row;

use super::memo::commit_auth_change;
use super::{Db, StoreResult, now_micros};

/// Stores a refresh token of `family`.
pub async fn create_refresh_token(
    db: &Db,
    user_id: i64,
    family: &str,
    hash: &str,
    expires_at: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (user_id, family, token_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(family)
    .bind(hash)
    .bind(now_micros())
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// What using a refresh token found.
pub enum RefreshUse {
    /// A live token, now marked used: the caller issues the next one of the family.
    Fresh { user_id: i64, family: String },
    /// A token of a family that was used before: someone replayed it; the family is revoked.
    Reused,
    /// Unknown, expired, revoked, or its person deactivated.
    Invalid,
}

/// Marks a refresh token used, atomically: of two requests racing with one token, one wins and
/// the other counts as reuse.
pub async fn use_refresh_token(db: &Db, hash: &str) -> StoreResult<RefreshUse> {
    let now = now_micros();
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "SELECT r.user_id, r.family, r.used_at, r.revoked_at, r.expires_at, u.active
         FROM refresh_tokens r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(RefreshUse::Invalid);
    };
    let user_id: i64 = row.try_get("user_id")?;
    let family: String = row.try_get("family")?;
    let used_at: Option<i64> = row.try_get("used_at")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let active = row.try_get::<i64, _>("active")? != 0;
    if used_at.is_some() {
        revoke_family_in(&mut tx, &family, now).await?;
        commit_auth_change(db, tx).await?;
        return Ok(RefreshUse::Reused);
    }
    if revoked_at.is_some() || expires_at <= now || !active {
        return Ok(RefreshUse::Invalid);
    }
    let claimed = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now)
    .bind(hash)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() != 1 {
        revoke_family_in(&mut tx, &family, now).await?;
        commit_auth_change(db, tx).await?;
        return Ok(RefreshUse::Reused);
    }
    tx.commit().await?;
    Ok(RefreshUse::Fresh { user_id, family })
}

async fn revoke_family_in(tx: &mut super::Tx, family: &str, now: i64) -> StoreResult<()> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE access_tokens SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(family)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Signs out: revokes the access token with this hash and every token of its family.
pub async fn revoke_access_token(db: &Db, hash: &str) -> StoreResult<()> {
    let now = now_micros();
    let mut tx = db.begin_write().await?;
    let family: Option<String> =
        sqlx::query("SELECT family FROM access_tokens WHERE token_hash = $1")
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get("family"))
            .transpose()?
            .flatten();
    sqlx::query(
        "UPDATE access_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(hash)
    .execute(&mut *tx)
    .await?;
    if let Some(family) = family {
        revoke_family_in(&mut tx, &family, now).await?;
    }
    commit_auth_change(db, tx).await?;
    Ok(())
}

/// Records a failed sign-in against each subject (`email:…`, `ip:…`).
pub async fn record_failure(db: &Db, subjects: &[String]) -> StoreResult<()> {
    let now = now_micros();
    for subject in subjects {
        sqlx::query("INSERT INTO signin_failures (subject, created_at) VALUES ($1, $2)")
            .bind(subject)
            .bind(now)
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

/// The failures of a subject since `since`: how many, and when the oldest was.
pub async fn failures_since(db: &Db, subject: &str, since: i64) -> StoreResult<(i64, Option<i64>)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM signin_failures
         WHERE subject = $1 AND created_at >= $2",
    )
    .bind(subject)
    .bind(since)
    .fetch_one(db.pool())
    .await?;
    Ok((row.try_get("n")?, row.try_get("oldest")?))
}

/// Forgets a subject's failures (after a successful sign-in), and everyone's older than
/// `before`, so the table stays small.
pub async fn clear_failures(db: &Db, subject: &str, before: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM signin_failures WHERE subject = $1 OR created_at < $2")
        .bind(subject)
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(())
}
