//! Access tokens, refresh tokens and API keys.

use crate::domain::people::KeyScope;
use crate::domain::secrets::{hash_secret, new_access_token, new_api_key, new_refresh_token};
use crate::store::sessions::{self, NewPair, RefreshUse};
use crate::store::{Db, StoreResult, accounts, now_micros};

fn expiry(ttl_secs: u64) -> i64 {
    let ttl_micros = i64::try_from(ttl_secs)
        .unwrap_or(i64::MAX / 1_000_000)
        .saturating_mul(1_000_000);
    now_micros().saturating_add(ttl_micros)
}

/// Issues a lone access token (no refresh token, no API key: good with any live key); returns
/// it, shown once and stored hashed. For the command line.
pub async fn issue_access_token(db: &Db, user_id: i64, ttl_secs: u64) -> StoreResult<String> {
    let secret = new_access_token();
    accounts::create_access_token(db, user_id, &secret.hash, expiry(ttl_secs), None).await?;
    Ok(secret.plain)
}

/// What sign-in and refresh hand out.
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
}

/// New secrets for a pair: the plain tokens to hand out, the hashes and expiries to store.
fn new_pair(api_key_id: i64, access_ttl: u64, refresh_ttl: u64) -> (Session, NewPair) {
    let access = new_access_token();
    let refresh = new_refresh_token();
    let pair = NewPair {
        api_key_id,
        access_hash: access.hash,
        access_expires_at: expiry(access_ttl),
        refresh_hash: refresh.hash,
        refresh_expires_at: expiry(refresh_ttl),
    };
    let session = Session {
        access_token: access.plain,
        refresh_token: refresh.plain,
    };
    (session, pair)
}

/// Starts a session at sign-in with the API key `api_key_id`: an access token and the first
/// refresh token of a new family, both good with that key only.
pub async fn start_session(
    db: &Db,
    user_id: i64,
    api_key_id: i64,
    access_ttl: u64,
    refresh_ttl: u64,
) -> StoreResult<Session> {
    let family = hex::encode(rand::random::<[u8; 16]>());
    let (session, pair) = new_pair(api_key_id, access_ttl, refresh_ttl);
    sessions::start_family(db, user_id, &family, &pair).await?;
    Ok(session)
}

/// Why a refresh was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshRefused {
    Invalid,
    /// The token had been used already: its whole family is now revoked.
    Reused,
}

/// Trades a refresh token, presented with the API key `api_key_id`, for a new access token
/// and the next refresh token of its family.
pub async fn refresh_session(
    db: &Db,
    refresh_token: &str,
    api_key_id: i64,
    access_ttl: u64,
    refresh_ttl: u64,
) -> StoreResult<Result<Session, RefreshRefused>> {
    let (session, pair) = new_pair(api_key_id, access_ttl, refresh_ttl);
    match sessions::use_refresh_token(db, &hash_secret(refresh_token), &pair).await? {
        RefreshUse::Fresh => Ok(Ok(session)),
        RefreshUse::Reused => Ok(Err(RefreshRefused::Reused)),
        RefreshUse::Invalid => Ok(Err(RefreshRefused::Invalid)),
    }
}

/// Creates an API key; returns its id and the key, shown once and stored hashed.
pub async fn create_api_key(db: &Db, name: &str, scope: KeyScope) -> StoreResult<(i64, String)> {
    let secret = new_api_key();
    let id = accounts::create_api_key(db, name, &secret.hash, &secret.prefix, scope).await?;
    Ok((id, secret.plain))
}
