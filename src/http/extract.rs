//! Our own extractors, so that every rejection answers in the envelope: the two credentials
//! (`apikey`, `Authorization: Bearer`; checked by `services::auth`) and the roles. Request
//! bodies are read by `body`.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};

use super::envelope::{API_KEY_INVALID, API_KEY_REQUIRED, ApiError, TOKEN_INVALID, TOKEN_MISSING};
use crate::app::AppState;
use crate::domain::people::{KeyScope, Person, Role};
use crate::services::auth::{self, AuthError, Sent};

pub use super::body::{FormBody, Upload, read_body, read_body_in_time};

/// A credential header as sent.
fn sent<'a>(headers: &'a HeaderMap, name: impl axum::http::header::AsHeaderName) -> Sent<'a> {
    match headers.get(name) {
        None => Sent::Absent,
        Some(value) => value.to_str().map_or(Sent::Unreadable, Sent::Text),
    }
}

/// The contract's answer for a refused credential.
fn refused(err: AuthError) -> ApiError {
    let (field, message) = match err {
        AuthError::KeyMissing => ("apikey", API_KEY_REQUIRED),
        AuthError::KeyInvalid => ("apikey", API_KEY_INVALID),
        AuthError::TokenInvalid => ("authorization", TOKEN_INVALID),
        AuthError::Store(err) => return err.into(),
    };
    ApiError::Unauthorized { field, message }
}

/// Both credentials, checked in the contract's order (see `services::auth`).
async fn authenticate(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<(KeyScope, Option<Person>), ApiError> {
    auth::authenticate(
        &state.db,
        state.jwt.as_ref(),
        sent(headers, "apikey"),
        sent(headers, header::AUTHORIZATION),
    )
    .await
    .map_err(refused)
}

/// The bearer token as sent, for signing out.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    auth::bearer_token(sent(headers, header::AUTHORIZATION))
}

/// A request from a known client application, by a signed-in person.
pub struct Caller(pub Person);

/// The key's scope and the person, checked in the contract's order: key, then token.
async fn key_and_person(parts: &Parts, state: &AppState) -> Result<(KeyScope, Person), ApiError> {
    match authenticate(&parts.headers, state).await? {
        (scope, Some(person)) => Ok((scope, person)),
        (_, None) => Err(ApiError::Unauthorized {
            field: "authorization",
            message: TOKEN_MISSING,
        }),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        key_and_person(parts, state)
            .await
            .map(|(_, person)| Self(person))
    }
}

/// A staff request: the key must be allowed the staff routes, the person must have `allowed`.
async fn staff_caller(
    parts: &Parts,
    state: &AppState,
    allowed: impl Fn(Role) -> bool,
) -> Result<Person, ApiError> {
    let (scope, person) = key_and_person(parts, state).await?;
    if scope != KeyScope::All {
        return Err(ApiError::Detail(
            StatusCode::FORBIDDEN,
            "This API key may not be used for staff routes.".to_owned(),
        ));
    }
    if !allowed(person.role) {
        return Err(forbidden());
    }
    Ok(person)
}

/// A signed-in agent or administrator; anyone else is refused with 403.
pub struct Staff(pub Person);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        staff_caller(parts, state, Role::is_staff).await.map(Self)
    }
}

/// A signed-in administrator; anyone else is refused with 403.
pub struct Admin(pub Person);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        staff_caller(parts, state, |role| role == Role::Admin)
            .await
            .map(Self)
    }
}

fn forbidden() -> ApiError {
    ApiError::detail(
        StatusCode::FORBIDDEN,
        "You do not have permission to perform this action.",
    )
}

/// A request from a known client application; a token, when sent, must be valid.
pub struct OptionalCaller(pub Option<Person>);

impl FromRequestParts<AppState> for OptionalCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Self(authenticate(&parts.headers, state).await?.1))
    }
}

/// The client's address, where the connection loop recorded it.
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Self(crate::http::server::client_address(&parts.extensions)))
    }
}

/// A request from a known client application, no person needed (sign-in): the key's id, which
/// the sessions it starts belong to.
pub struct ClientApp(pub i64);

impl FromRequestParts<AppState> for ClientApp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = auth::check_api_key(&state.db, sent(&parts.headers, "apikey"))
            .await
            .map_err(refused)?;
        Ok(Self(key.id))
    }
}
