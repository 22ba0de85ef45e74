//! Who is calling: the client application's API key and the person's bearer token, checked in
//! the contract's order (the key, then the token). Every API request pays for this, so live
//! credentials are answered from memory (`store::memo`: a revocation reaches this process at
//! once, or within its refresh interval when made elsewhere); otherwise, when the token is the
//! desk's own, both are looked up in one database round trip. A host platform's JWT is verified
//! offline and its person found or created (`jwt`). The HTTP extractors only read the headers
//! and turn a refusal into the envelope.

use subtle::ConstantTimeEq;

use crate::domain::people::{KeyScope, Person};
use crate::domain::secrets::hash_secret;
use crate::services::jwt::{self, JwtVerifier};
use crate::store::memo::LiveKey;
use crate::store::{Db, StoreError, accounts, now_micros, sessions};

/// A credential header as the request carried it.
#[derive(Clone, Copy, Debug)]
pub enum Sent<'a> {
    Absent,
    /// Present, but not text.
    Unreadable,
    Text(&'a str),
}

/// Why a request is refused (each has the contract's message, see `http::envelope`).
#[derive(Debug)]
pub enum AuthError {
    KeyMissing,
    KeyInvalid,
    TokenInvalid,
    Store(StoreError),
}

impl From<StoreError> for AuthError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

fn equal_hashes(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The API key as sent, or why there is none.
fn sent_api_key(api_key: Sent<'_>) -> Result<&str, AuthError> {
    match api_key {
        Sent::Unreadable => Err(AuthError::KeyInvalid),
        Sent::Absent => Err(AuthError::KeyMissing),
        Sent::Text(text) => Some(text.trim())
            .filter(|s| !s.is_empty())
            .ok_or(AuthError::KeyMissing),
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(authorization: Sent<'_>) -> Option<&str> {
    let Sent::Text(value) = authorization else {
        return None;
    };
    match value.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Some(token.trim()),
        _ => None,
    }
}

/// Both credentials, checked in the contract's order: the key's scope, and the person when a
/// token was sent. A desk token signed in under one API key is accepted with that key only
/// (see `store::accounts::key_and_token`); presented with another, it is an invalid token.
pub async fn authenticate(
    db: &Db,
    jwt: Option<&JwtVerifier>,
    api_key: Sent<'_>,
    authorization: Sent<'_>,
) -> Result<(KeyScope, Option<Person>), AuthError> {
    let key = sent_api_key(api_key)?;
    let own_token = bearer_token(authorization).filter(|t| t.starts_with("sdt_"));
    let Some(token) = own_token else {
        let key = check_api_key(db, api_key).await?;
        return Ok((key.scope, bearer_person(db, jwt, authorization).await?));
    };
    let memo = db.memo();
    // Read before the database is asked: see `store::memo`.
    let generation = memo.auth_generation();
    let key_hash = hash_secret(key);
    let token_hash = hash_secret(token);
    let now = now_micros();
    if let Some(key) = memo.key(generation, &key_hash)
        && let Some(person) = memo.token(generation, &token_hash, key.id, now)
    {
        return Ok((key.scope, Some(person)));
    }
    match accounts::key_and_token(db, &key_hash, &token_hash).await? {
        Some((_, stored_key, _)) if !equal_hashes(&stored_key, &key_hash) => {
            Err(AuthError::KeyInvalid)
        }
        Some((key, _, Some((live, stored_token)))) if equal_hashes(&stored_token, &token_hash) => {
            memo.remember_key(generation, &key_hash, key);
            let person = live.person.clone();
            memo.remember_token(generation, &token_hash, live);
            Ok((key.scope, Some(person)))
        }
        Some(_) => Err(AuthError::TokenInvalid),
        None => Err(AuthError::KeyInvalid),
    }
}

/// Checks the API key against the live keys; answers the key (its id and scope).
pub async fn check_api_key(db: &Db, api_key: Sent<'_>) -> Result<LiveKey, AuthError> {
    let hash = hash_secret(sent_api_key(api_key)?);
    let memo = db.memo();
    let generation = memo.auth_generation();
    if let Some(key) = memo.key(generation, &hash) {
        return Ok(key);
    }
    match accounts::api_key_by_hash(db, &hash).await? {
        Some((key, stored)) if equal_hashes(&stored, &hash) => {
            memo.remember_key(generation, &hash, key);
            Ok(key)
        }
        _ => Err(AuthError::KeyInvalid),
    }
}

/// The person behind the bearer token, `None` when no `Authorization` header was sent.
async fn bearer_person(
    db: &Db,
    jwt: Option<&JwtVerifier>,
    authorization: Sent<'_>,
) -> Result<Option<Person>, AuthError> {
    let value = match authorization {
        Sent::Absent => return Ok(None),
        Sent::Unreadable => return Err(AuthError::TokenInvalid),
        Sent::Text(value) => value,
    };
    let token = match value.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(AuthError::TokenInvalid),
    };
    if token.is_empty() {
        return Err(AuthError::TokenInvalid);
    }
    if !token.starts_with("sdt_")
        && let Some(verifier) = jwt
    {
        // A host platform's JWT: verified offline, then checked against the ones signed out,
        // then its person found or created.
        let Some(identity) = verifier.verify(token) else {
            return Err(AuthError::TokenInvalid);
        };
        if sessions::host_token_revoked(db, &hash_secret(token)).await? {
            return Err(AuthError::TokenInvalid);
        }
        return jwt::person_for(db, &identity)
            .await?
            .map(Some)
            .ok_or(AuthError::TokenInvalid);
    }
    let hash = hash_secret(token);
    match accounts::person_by_token_hash(db, &hash).await? {
        Some((person, stored)) if equal_hashes(&stored, &hash) => Ok(Some(person)),
        _ => Err(AuthError::TokenInvalid),
    }
}

/// Why a sign-in with email and password was refused.
#[derive(Debug)]
pub enum SignInRefused {
    /// Too many failures for the account or the address: wait this many seconds.
    Throttled(u64),
    /// Wrong email or password, or the person is deactivated (one answer for all three).
    BadCredentials,
}

/// A sign-in that could not be decided.
#[derive(Debug)]
pub enum SignInError {
    Store(StoreError),
    /// The password check's blocking task failed.
    Hashing(tokio::task::JoinError),
}

impl From<StoreError> for SignInError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// The one password sign-in, for the API and the console alike: the throttle's reservation
/// first (alike for accounts that do not exist, so concurrent guesses cannot check more
/// passwords than it allows), then the password, checked off the async threads and against a
/// dummy hash for unknown emails so that the answer takes about as long.
pub async fn password_sign_in(
    db: &Db,
    throttle: &crate::services::throttle::SignInThrottle,
    email: &str,
    password: String,
    client: Option<std::net::IpAddr>,
) -> Result<Result<Person, SignInRefused>, SignInError> {
    let subjects = crate::services::throttle::subjects(email, client);
    let attempt = match throttle.reserve(db, &subjects).await? {
        Ok(attempt) => attempt,
        Err(wait) => return Ok(Err(SignInRefused::Throttled(wait))),
    };
    let user = accounts::find_user_by_email(db, email).await?;
    let stored = user.as_ref().map_or_else(
        || crate::domain::secrets::dummy_password_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let matches = tokio::task::spawn_blocking(move || {
        crate::domain::secrets::verify_password(&password, &stored)
    })
    .await
    .map_err(SignInError::Hashing)?;
    match user {
        Some(user) if matches && user.active => {
            throttle.succeeded(db, &subjects, attempt).await?;
            Ok(Ok(user.person))
        }
        // The reservation stays: it is the recorded failure.
        _ => Ok(Err(SignInRefused::BadCredentials)),
    }
}
