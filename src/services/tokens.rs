//! Access tokens and API keys.

use crate::domain::secrets::{new_access_token, new_api_key};
use crate::store::{Db, StoreResult, accounts, now_micros};

/// Issues an access token for a person; returns the token, shown once and stored hashed.
pub async fn issue_access_token(db: &Db, user_id: i64, ttl_secs: u64) -> StoreResult<String> {
    let secret = new_access_token();
    let ttl_micros = i64::try_from(ttl_secs)
        .unwrap_or(i64::MAX / 1_000_000)
        .saturating_mul(1_000_000);
    let expires_at = now_micros().saturating_add(ttl_micros);
    accounts::create_access_token(db, user_id, &secret.hash, expires_at).await?;
    Ok(secret.plain)
}

/// Creates an API key; returns its id and the key, shown once and stored hashed.
pub async fn create_api_key(db: &Db, name: &str) -> StoreResult<(i64, String)> {
    let secret = new_api_key();
    let id = accounts::create_api_key(db, name, &secret.hash, &secret.prefix).await?;
    Ok((id, secret.plain))
}
