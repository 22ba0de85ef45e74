//! Creating people, and the first administrator of an empty desk.

use crate::domain::people::{Role, check_email, normalize_email};
use crate::domain::secrets::hash_password;
use crate::store::{Db, StoreError, accounts};

/// Why a person could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// The email and the message for the `email` field.
    #[error("{0:?} is not a valid email address: {1}")]
    InvalidEmail(String, &'static str),
    #[error("the password must not be empty")]
    EmptyPassword,
    #[error("a person with email {0} exists already")]
    Exists(String),
    #[error(transparent)]
    Store(StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(anyhow::Error),
}

/// Creates a person with an Argon2id-hashed password (hashed off the async threads).
pub async fn create_user(
    db: &Db,
    email: &str,
    password: &str,
    role: Role,
) -> Result<i64, CreateUserError> {
    let email = normalize_email(email);
    if let Err(message) = check_email(&email) {
        return Err(CreateUserError::InvalidEmail(email, message));
    }
    if password.is_empty() {
        return Err(CreateUserError::EmptyPassword);
    }
    let password = password.to_owned();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| CreateUserError::Hashing(e.into()))?
        .map_err(CreateUserError::Hashing)?;
    match accounts::create_user(db, &email, &hash, role).await {
        Ok(id) => Ok(id),
        Err(StoreError::Conflict) => Err(CreateUserError::Exists(email)),
        Err(e) => Err(CreateUserError::Store(e)),
    }
}

/// Why a person could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateUserError {
    #[error("no person with id {0}")]
    NotFound(i64),
    #[error("the password must not be empty")]
    EmptyPassword,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(anyhow::Error),
}

/// Changes a person's role, active flag, password or whether the desk emails them. A new password, a deactivation and a role
/// change revoke every access and refresh token of the person (see `accounts::update_user`);
/// the HTTP and CLI paths both come here.
pub async fn update_user(
    db: &Db,
    id: i64,
    role: Option<Role>,
    active: Option<bool>,
    password: Option<&str>,
    email_notifications: Option<bool>,
) -> Result<(), UpdateUserError> {
    let hash = match password {
        None => None,
        Some("") => return Err(UpdateUserError::EmptyPassword),
        Some(password) => {
            let password = password.to_owned();
            Some(
                tokio::task::spawn_blocking(move || hash_password(&password))
                    .await
                    .map_err(|e| UpdateUserError::Hashing(e.into()))?
                    .map_err(UpdateUserError::Hashing)?,
            )
        }
    };
    if accounts::update_user(db, id, role, active, hash.as_deref(), email_notifications).await? {
        Ok(())
    } else {
        Err(UpdateUserError::NotFound(id))
    }
}

/// What a first start created, to be shown once.
pub struct Bootstrap {
    pub admin_email: String,
    pub admin_password: String,
    pub api_key: String,
}

/// On a desk with nobody in it, creates an administrator and one API key. Several processes
/// starting at once on one empty database create one administrator: the email is unique.
pub async fn bootstrap_if_empty(db: &Db) -> anyhow::Result<Option<Bootstrap>> {
    if accounts::count_users(db).await? > 0 {
        return Ok(None);
    }
    let admin_email = "admin@localhost".to_owned();
    let admin_password = hex::encode(rand::random::<[u8; 12]>());
    match create_user(db, &admin_email, &admin_password, Role::Admin).await {
        Ok(_) => {}
        Err(CreateUserError::Exists(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    // The first key may reach the staff routes: the administrator needs it.
    let (_, api_key) =
        super::tokens::create_api_key(db, "default", crate::domain::people::KeyScope::All).await?;
    Ok(Some(Bootstrap {
        admin_email,
        admin_password,
        api_key,
    }))
}
