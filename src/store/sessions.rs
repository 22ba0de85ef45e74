//! Sessions: access and refresh tokens of sign-ins (rotated on use, in families), revocation
//! (of a family, of every session of a person, of host JWTs signed out), and the sign-in
//! attempts that throttling counts.

use sqlx::Row;

use super::{CredentialsChange, Db, StoreResult, Tx, now_micros};

/// The hashes and expiries of a new access token and the refresh token that goes with it.
pub struct NewPair {
    /// The API key the session was signed in with.
    pub api_key_id: i64,
    pub access_hash: String,
    pub access_expires_at: i64,
    pub refresh_hash: String,
    pub refresh_expires_at: i64,
}

/// Inserts a pair of `family`, inside the caller's transaction.
async fn insert_pair(
    tx: &mut super::Tx,
    user_id: i64,
    family: &str,
    pair: &NewPair,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO access_tokens (user_id, token_hash, created_at, expires_at, family, api_key_id)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id)
    .bind(&pair.access_hash)
    .bind(now)
    .bind(pair.access_expires_at)
    .bind(family)
    .bind(pair.api_key_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (user_id, family, token_hash, created_at, expires_at, api_key_id)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user_id)
    .bind(family)
    .bind(&pair.refresh_hash)
    .bind(now)
    .bind(pair.refresh_expires_at)
    .bind(pair.api_key_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Starts a sign-in's family with its first pair, both tokens or neither.
pub async fn start_family(db: &Db, user_id: i64, family: &str, pair: &NewPair) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    insert_pair(&mut tx, user_id, family, pair, now_micros()).await?;
    tx.commit().await
}

/// What using a refresh token found.
pub enum RefreshUse {
    /// A live token, now marked used, and the next pair of its family stored.
    Fresh,
    /// A token of a family that was used before: someone replayed it; the family is revoked.
    Reused,
    /// Unknown, expired, revoked, or its person deactivated.
    Invalid,
}

/// Trades a refresh token for `next` (presented with the key `next.api_key_id`), atomically: the claim of the old token and the insertion
/// of the new pair commit together. Of two requests racing with one token, one wins and the
/// other counts as reuse; the reuse's revocation of the family then always finds the winner's
/// new tokens, since they were committed with the claim it waited for.
pub async fn use_refresh_token(db: &Db, hash: &str, next: &NewPair) -> StoreResult<RefreshUse> {
    let now = now_micros();
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "SELECT r.user_id, r.family, r.used_at, r.revoked_at, r.expires_at, r.api_key_id,
                u.active
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
    let active = super::flag(&row, "active")?;
    let key_id: Option<i64> = row.try_get("api_key_id")?;
    if key_id.is_some_and(|id| id != next.api_key_id) {
        // Another application's session: this key may not use (nor spend) it.
        return Ok(RefreshUse::Invalid);
    }
    if used_at.is_some() {
        let mut tx = tx.into_credentials_change();
        revoke_family_in(&mut tx, &family, now).await?;
        tx.commit().await?;
        return Ok(RefreshUse::Reused);
    }
    if revoked_at.is_some() || expires_at <= now || !active {
        return Ok(RefreshUse::Invalid);
    }
    // On PostgreSQL a racing claim waits here for the row lock of the first one, and then
    // finds the token used.
    let claimed = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1
         WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(hash)
    .execute(&mut *tx)
    .await?;
    if claimed.rows_affected() != 1 {
        let mut tx = tx.into_credentials_change();
        revoke_family_in(&mut tx, &family, now).await?;
        tx.commit().await?;
        return Ok(RefreshUse::Reused);
    }
    insert_pair(&mut tx, user_id, &family, next, now).await?;
    tx.commit().await?;
    Ok(RefreshUse::Fresh)
}

async fn revoke_family_in(
    tx: &mut Tx<CredentialsChange>,
    family: &str,
    now: i64,
) -> StoreResult<()> {
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

/// Signs out a host platform's JWT: its hash is kept until the token expires (`expires_at`),
/// and refused until then. Hashes of tokens past their expiry are forgotten on the way.
pub async fn revoke_host_token(db: &Db, hash: &str, expires_at: i64) -> StoreResult<()> {
    let now = now_micros();
    sqlx::query("DELETE FROM revoked_host_tokens WHERE expires_at < $1")
        .bind(now)
        .execute(db.pool())
        .await?;
    // Signed out twice: already refused.
    sqlx::query(
        "INSERT INTO revoked_host_tokens (token_hash, expires_at) VALUES ($1, $2)
         ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(hash)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Whether a host platform's JWT with this hash was signed out.
pub async fn host_token_revoked(db: &Db, hash: &str) -> StoreResult<bool> {
    let row = sqlx::query("SELECT 1 AS one FROM revoked_host_tokens WHERE token_hash = $1")
        .bind(hash)
        .fetch_optional(&mut db.read().await?)
        .await?;
    Ok(row.is_some())
}

/// Ends every session of a person: all their access tokens (lone ones and those of sign-ins)
/// and all their refresh tokens, so that no token issued before now works again.
pub async fn revoke_every_session_in(
    tx: &mut Tx<CredentialsChange>,
    user_id: i64,
    now: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE access_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    // The console's browser sessions end with them.
    super::console_sessions::end_all_in(tx, user_id).await?;
    Ok(())
}

/// Signs out: revokes the access token with this hash and every token of its family.
pub async fn revoke_access_token(db: &Db, hash: &str) -> StoreResult<()> {
    let now = now_micros();
    let mut tx = db.begin_credentials_change().await?;
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
    tx.commit().await?;
    Ok(())
}

/// Reserves one sign-in attempt against every subject (`email:…`, `ip:…`), atomically: when
/// each subject has fewer than `max` attempts since `since`, one row per subject is inserted
/// and their ids answered; otherwise nothing is written and the answer is the time of the
/// oldest attempt of the subject that will be free last. The count and the insert happen under
/// one lock per subject (SQLite: the write lock of `BEGIN IMMEDIATE`; PostgreSQL: a transaction
/// advisory lock on the subject), so concurrent attempts, also from several processes, never
/// reserve more than `max` between them.
pub async fn reserve_attempt(
    db: &Db,
    subjects: &[String],
    since: i64,
    max: i64,
) -> StoreResult<Result<Vec<i64>, i64>> {
    let now = now_micros();
    let mut tx = db.begin_write().await?;
    if db.backend() == super::Backend::Postgres {
        // Always in the same order, so two attempts never wait for each other's locks.
        let mut keys: Vec<i64> = subjects.iter().map(|s| lock_key(s)).collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
    }
    let mut full_until: Option<i64> = None;
    for subject in subjects {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM signin_failures
             WHERE subject = $1 AND created_at >= $2",
        )
        .bind(subject)
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        let count: i64 = row.try_get("n")?;
        if count >= max {
            let oldest = row.try_get::<Option<i64>, _>("oldest")?.unwrap_or(now);
            full_until = Some(full_until.map_or(oldest, |t| t.max(oldest)));
        }
    }
    if let Some(oldest) = full_until {
        return Ok(Err(oldest));
    }
    let mut ids = Vec::with_capacity(subjects.len());
    for subject in subjects {
        let row = sqlx::query(
            "INSERT INTO signin_failures (subject, created_at) VALUES ($1, $2) RETURNING id",
        )
        .bind(subject)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        ids.push(row.try_get("id")?);
    }
    tx.commit().await?;
    Ok(Ok(ids))
}

/// A 64-bit advisory-lock key for a throttling subject, the same in every process.
fn lock_key(subject: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("signin:{subject}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// After a successful sign-in: gives back its reservations, forgets the account's earlier
/// failures, and everyone's older than `before`, so the table stays small.
pub async fn release_attempt(
    db: &Db,
    reserved: &[i64],
    account: Option<&str>,
    before: i64,
) -> StoreResult<()> {
    for id in reserved {
        sqlx::query("DELETE FROM signin_failures WHERE id = $1")
            .bind(id)
            .execute(db.pool())
            .await?;
    }
    sqlx::query("DELETE FROM signin_failures WHERE subject = $1 OR created_at < $2")
        .bind(account.unwrap_or(""))
        .bind(before)
        .execute(db.pool())
        .await?;
    Ok(())
}
