//! People, API keys and access tokens. Secrets are stored only as hashes
//! (see `domain::secrets`).

use sqlx::Row;
use sqlx::any::AnyRow;

use super::memo::{LiveKey, LiveToken};
use super::{Db, StoreResult, now_micros};
use crate::domain::people::{KeyScope, Person, Role};

/// A person's row, with the password hash for sign-in.
pub struct UserRecord {
    pub person: Person,
    pub password_hash: String,
    pub active: bool,
}

pub(super) fn role_of(text: &str) -> Role {
    // The CHECK constraint allows only the three names; customer is the least privilege.
    text.parse().unwrap_or(Role::Customer)
}

fn user_from_row(row: &AnyRow) -> StoreResult<UserRecord> {
    let role: String = row.try_get("role")?;
    Ok(UserRecord {
        person: Person {
            id: row.try_get("id")?,
            email: row.try_get("email")?,
            role: role_of(&role),
        },
        password_hash: row.try_get("password_hash")?,
        active: super::flag(row, "active")?,
    })
}

/// Creates a person; `StoreError::Conflict` if the email is taken.
pub async fn create_user(
    db: &Db,
    email: &str,
    password_hash: &str,
    role: Role,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO users (email, password_hash, role, active, created_at)
         VALUES ($1, $2, $3, 1, $4) RETURNING id",
    )
    .bind(email)
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now_micros())
    .fetch_one(db.pool())
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn find_user_by_email(db: &Db, email: &str) -> StoreResult<Option<UserRecord>> {
    let row =
        sqlx::query("SELECT id, email, role, password_hash, active FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&mut db.read().await?)
            .await?;
    row.as_ref().map(user_from_row).transpose()
}

pub async fn count_users(db: &Db) -> StoreResult<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(&mut db.read().await?)
        .await?;
    Ok(row.try_get("n")?)
}

/// An API key as listed: never the secret, only its first characters.
pub struct ApiKeyRecord {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scope: KeyScope,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

pub async fn create_api_key(
    db: &Db,
    name: &str,
    hash: &str,
    prefix: &str,
    scope: KeyScope,
) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO api_keys (name, key_hash, key_prefix, created_at, scope)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(name)
    .bind(hash)
    .bind(prefix)
    .bind(now_micros())
    .bind(scope.as_str())
    .fetch_one(db.pool())
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn list_api_keys(db: &Db) -> StoreResult<Vec<ApiKeyRecord>> {
    let rows = sqlx::query(
        "SELECT id, name, key_prefix, scope, created_at, revoked_at FROM api_keys ORDER BY id",
    )
    .fetch_all(&mut db.read().await?)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(ApiKeyRecord {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                prefix: row.try_get("key_prefix")?,
                scope: KeyScope::from_stored(&row.try_get::<String, _>("scope")?),
                created_at: row.try_get("created_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        })
        .collect()
}

/// Revokes a key, and with it every session signed in with it (their access and refresh
/// tokens); `false` if there is no such key or it was revoked already.
pub async fn revoke_api_key(db: &Db, id: i64) -> StoreResult<bool> {
    let now = now_micros();
    let mut tx = db.begin_credentials_change().await?;
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    for table in ["access_tokens", "refresh_tokens"] {
        let sql = format!(
            "UPDATE {table} SET revoked_at = $1 WHERE api_key_id = $2 AND revoked_at IS NULL"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// The live key with this hash, and its stored hash.
pub async fn api_key_by_hash(db: &Db, hash: &str) -> StoreResult<Option<(LiveKey, String)>> {
    let row = sqlx::query(
        "SELECT id, scope, key_hash FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(hash)
    .fetch_optional(&mut db.read().await?)
    .await?;
    row.map(|row| {
        let key = LiveKey {
            id: row.try_get("id")?,
            scope: KeyScope::from_stored(&row.try_get::<String, _>("scope")?),
        };
        Ok((key, row.try_get("key_hash")?))
    })
    .transpose()
}

pub async fn create_access_token(
    db: &Db,
    user_id: i64,
    hash: &str,
    expires_at: i64,
    family: Option<&str>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO access_tokens (user_id, token_hash, created_at, expires_at, family)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(hash)
    .bind(now_micros())
    .bind(expires_at)
    .bind(family)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The active person holding a live (unexpired, unrevoked) token with this hash, and the
/// stored hash for a constant-time comparison by the caller.
pub async fn person_by_token_hash(db: &Db, hash: &str) -> StoreResult<Option<(Person, String)>> {
    let row = sqlx::query(
        "SELECT u.id, u.email, u.role, t.token_hash
         FROM access_tokens t JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2
           AND u.active = 1",
    )
    .bind(hash)
    .bind(now_micros())
    .fetch_optional(&mut db.read().await?)
    .await?;
    row.map(|row| {
        let role: String = row.try_get("role")?;
        Ok((
            Person {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                role: role_of(&role),
            },
            row.try_get("token_hash")?,
        ))
    })
    .transpose()
}

/// A person as administrators list them.
pub struct UserSummary {
    pub person: Person,
    pub active: bool,
    /// Whether the desk emails them (`false`: they opted out).
    pub email_notifications: bool,
    pub created_at: i64,
}

pub async fn list_users(db: &Db) -> StoreResult<Vec<UserSummary>> {
    users_page(db, i64::MIN, i64::MAX, None).await
}

/// People in id order after `after`, at most `limit`, of one role if given: the console's
/// paged list (keyset, so a page costs the same at any depth).
pub async fn users_page(
    db: &Db,
    after: i64,
    limit: i64,
    role: Option<Role>,
) -> StoreResult<Vec<UserSummary>> {
    let rows = sqlx::query(
        "SELECT id, email, role, active, email_notifications, created_at FROM users \
         WHERE id > $1 AND ($2 = '' OR role = $2) ORDER BY id LIMIT $3",
    )
    .bind(after)
    .bind(role.map_or("", Role::as_str))
    .bind(limit)
    .fetch_all(&mut db.read().await?)
    .await?;
    rows.iter()
        .map(|row| {
            let role: String = row.try_get("role")?;
            Ok(UserSummary {
                person: Person {
                    id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    role: role_of(&role),
                },
                active: super::flag(row, "active")?,
                email_notifications: super::flag(row, "email_notifications")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}

/// One person, by id.
pub async fn user_summary(db: &Db, id: i64) -> StoreResult<Option<UserSummary>> {
    let found = users_page(db, id.saturating_sub(1), 1, None).await?;
    Ok(found.into_iter().find(|u| u.person.id == id))
}

/// Changes what is given of a person; `false` if there is nobody with that id.
///
/// A new password, a deactivation and a change of role end every session of the person: all
/// their access and refresh tokens are revoked in the same transaction. Tokens are revoked, not
/// merely refused while the person is inactive, so a reactivation does not bring them back.
pub async fn update_user(
    db: &Db,
    id: i64,
    role: Option<Role>,
    active: Option<bool>,
    password_hash: Option<&str>,
    email_notifications: Option<bool>,
) -> StoreResult<bool> {
    let mut tx = db.begin_credentials_change().await?;
    let current = sqlx::query("SELECT role FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(current) = current else {
        return Ok(false);
    };
    let current_role = role_of(&current.try_get::<String, _>("role")?);
    if let Some(role) = role {
        sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
            .bind(role.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(active) = active {
        sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
            .bind(i64::from(active))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(on) = email_notifications {
        sqlx::query("UPDATE users SET email_notifications = $1 WHERE id = $2")
            .bind(i64::from(on))
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(hash) = password_hash {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let role_changed = role.is_some_and(|r| r != current_role);
    if password_hash.is_some() || active == Some(false) || role_changed {
        super::sessions::revoke_every_session_in(&mut tx, id, now_micros()).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The active person a host platform knows by `subject`.
pub async fn person_by_external_subject(db: &Db, subject: &str) -> StoreResult<Option<UserRecord>> {
    let row = sqlx::query(
        "SELECT id, email, role, password_hash, active FROM users WHERE external_subject = $1",
    )
    .bind(subject)
    .fetch_optional(&mut db.read().await?)
    .await?;
    row.as_ref().map(user_from_row).transpose()
}

/// Links a host platform's subject to a person: a new one (no usable password), or the
/// customer who has that email and no subject yet. An agent's or administrator's email is
/// never linked (`StoreError::Conflict`): staff are made in the desk, or by the role claim of
/// a person the host introduced. Returns the person's id.
pub async fn link_external_person(
    db: &Db,
    subject: &str,
    email: &str,
    role: Role,
) -> StoreResult<i64> {
    let mut tx = db.begin_write().await?;
    let existing = sqlx::query("SELECT id, role, external_subject FROM users WHERE email = $1")
        .bind(email)
        .fetch_optional(&mut *tx)
        .await?;
    let id = match existing {
        Some(row) => {
            let id: i64 = row.try_get("id")?;
            let linked: Option<String> = row.try_get("external_subject")?;
            let role = role_of(&row.try_get::<String, _>("role")?);
            if linked.is_some() || role != Role::Customer {
                // The email belongs to another subject, or to staff: refuse rather than merge.
                return Err(super::StoreError::Conflict);
            }
            sqlx::query("UPDATE users SET external_subject = $1 WHERE id = $2")
                .bind(subject)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            id
        }
        None => sqlx::query(
            "INSERT INTO users (email, password_hash, role, active, created_at, external_subject)
             VALUES ($1, '!', $2, 1, $3, $4) RETURNING id",
        )
        .bind(email)
        .bind(role.as_str())
        .bind(now_micros())
        .bind(subject)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?,
    };
    tx.commit().await?;
    Ok(id)
}

/// The live key with `key_hash` (id, scope and stored hash) and, when `token_hash` names a live
/// token of an active person that may be presented with that key, that person and the token's
/// stored hash: one round trip for both credentials of a request. `None` when there is no such
/// key.
pub async fn key_and_token(
    db: &Db,
    key_hash: &str,
    token_hash: &str,
) -> StoreResult<Option<(LiveKey, String, Option<(LiveToken, String)>)>> {
    let row = sqlx::query(
        "SELECT k.id AS key_id, k.scope, k.key_hash, u.id, u.email, u.role, t.token_hash,
                t.expires_at, t.api_key_id
         FROM api_keys k
         LEFT JOIN access_tokens t
                ON t.token_hash = $2 AND t.revoked_at IS NULL AND t.expires_at > $3
               AND (t.api_key_id IS NULL OR t.api_key_id = k.id)
         LEFT JOIN users u ON u.id = t.user_id AND u.active = 1
         WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
    )
    .bind(key_hash)
    .bind(token_hash)
    .bind(now_micros())
    .fetch_optional(&mut db.read().await?)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let key = LiveKey {
        id: row.try_get("key_id")?,
        scope: KeyScope::from_stored(&row.try_get::<String, _>("scope")?),
    };
    let stored_key: String = row.try_get("key_hash")?;
    let person = match row.try_get::<Option<i64>, _>("id")? {
        Some(id) => {
            let role: String = row.try_get("role")?;
            let live = LiveToken {
                person: Person {
                    id,
                    email: row.try_get("email")?,
                    role: role_of(&role),
                },
                expires_at: row.try_get("expires_at")?,
                api_key_id: row.try_get("api_key_id")?,
            };
            Some((live, row.try_get("token_hash")?))
        }
        None => None,
    };
    Ok(Some((key, stored_key, person)))
}
