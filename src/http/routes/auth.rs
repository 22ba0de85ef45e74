//! Sign-in, refresh, sign-out and self-registration.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::app::AppState;
use crate::domain::fields::BLANK;
use crate::domain::people::Role;
use crate::domain::secrets::hash_secret;
use crate::http::envelope::{ApiError, ok};
use crate::http::extract::{Caller, ClientApp, ClientIp, FormBody, bearer_token};
use crate::http::inputs::auth::{Refresh, Register, SignIn};
use crate::http::ratelimit::throttled;
use crate::http::schema::*;
use crate::http::schema::{Empty, RegisteredData, RegisteredUser, SessionData};
use crate::services::accounts::{CreateUserError, create_user};
use crate::services::auth::{SignInError, SignInRefused, password_sign_in};
use crate::services::tokens::{RefreshRefused, Session, refresh_session, start_session};
use crate::store::sessions;

impl From<SignInError> for ApiError {
    fn from(err: SignInError) -> Self {
        match err {
            SignInError::Store(err) => err.into(),
            SignInError::Hashing(err) => ApiError::internal(err),
        }
    }
}

const BAD_CREDENTIALS: &str = "Unable to log in with provided credentials.";
const BAD_REFRESH: &str = "Invalid or expired refresh token.";

fn session_answer(state: &AppState, session: Session) -> Response {
    ok(SessionData {
        access_token: session.access_token,
        token_type: "Bearer".to_owned(),
        expires_in: state.token_ttl_secs,
        refresh_token: session.refresh_token,
    })
}

/// `POST auth/token/`: email and password for an access token and a refresh token.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    operation_id = "sign_in",
    summary = "Sign in",
    security(("apikey" = [])),
    request_body = SignInFields,
    responses((status = 200, description = "Done", body = Envelope<SessionData>))
)]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientApp(api_key_id): ClientApp,
    ClientIp(ip): ClientIp,
    body: FormBody,
) -> Result<Response, ApiError> {
    // An address no account can have (invisible characters, mixed scripts) is named as such
    // by the parse, before any throttling or password work; it says nothing about who has an
    // account.
    let SignIn { email, password } = SignIn::parse(&body)?;
    let person =
        match password_sign_in(&state.db, &state.sign_in_throttle, &email, password, ip).await? {
            Ok(person) => person,
            Err(SignInRefused::Throttled(wait)) => return Ok(throttled(wait)),
            Err(SignInRefused::BadCredentials) => {
                return Err(ApiError::detail(StatusCode::UNAUTHORIZED, BAD_CREDENTIALS));
            }
        };
    let session = start_session(
        &state.db,
        person.id,
        api_key_id,
        state.token_ttl_secs,
        state.refresh_ttl_secs,
    )
    .await?;
    Ok(session_answer(&state, session))
}

/// `POST auth/refresh/`: a refresh token for a new access token and the next refresh token.
/// A refresh token works once; presenting a used one revokes its whole family.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "auth",
    operation_id = "refresh",
    summary = "Trade a refresh token for new tokens",
    security(("apikey" = [])),
    request_body = RefreshFields,
    responses((status = 200, description = "Done", body = Envelope<SessionData>))
)]
pub async fn refresh(
    State(state): State<AppState>,
    ClientApp(api_key_id): ClientApp,
    body: FormBody,
) -> Result<Response, ApiError> {
    let Refresh { refresh_token } = Refresh::parse(&body)?;
    match refresh_session(
        &state.db,
        &refresh_token,
        api_key_id,
        state.token_ttl_secs,
        state.refresh_ttl_secs,
    )
    .await?
    {
        Ok(session) => Ok(session_answer(&state, session)),
        Err(RefreshRefused::Reused) => {
            tracing::warn!("a used refresh token was presented again; its family is revoked");
            Err(ApiError::detail(StatusCode::UNAUTHORIZED, BAD_REFRESH))
        }
        Err(RefreshRefused::Invalid) => {
            Err(ApiError::detail(StatusCode::UNAUTHORIZED, BAD_REFRESH))
        }
    }
}

/// `POST auth/revoke/`: signs out. A desk token stops working with its refresh tokens; a host
/// platform's JWT is refused from now until its own expiry (its hash is remembered that long).
#[utoipa::path(
    post,
    path = "/auth/revoke",
    tag = "auth",
    operation_id = "sign_out",
    summary = "Sign out",
    responses((status = 200, description = "Done", body = Envelope<Empty>))
)]
pub async fn revoke(
    State(state): State<AppState>,
    _caller: Caller,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = bearer_token(&headers) else {
        return Ok(ok(Empty::default()));
    };
    if token.starts_with("sdt_") {
        sessions::revoke_access_token(&state.db, &hash_secret(token)).await?;
    } else if let Some(identity) = state.jwt.as_ref().and_then(|v| v.verify(token)) {
        // The caller extractor accepted it, so it verifies; its expiry bounds the memory.
        sessions::revoke_host_token(&state.db, &hash_secret(token), identity.expires_at).await?;
    }
    Ok(ok(Empty::default()))
}

/// `POST auth/register/`: a customer creates their own account, when the desk allows it.
#[utoipa::path(
    post,
    path = "/auth/register",
    tag = "auth",
    operation_id = "register",
    summary = "Create a customer account (when enabled)",
    security(("apikey" = [])),
    request_body = RegisterFields,
    responses((status = 200, description = "Done", body = Envelope<RegisteredData>))
)]
pub async fn register(
    State(state): State<AppState>,
    _client: ClientApp,
    body: FormBody,
) -> Result<Response, ApiError> {
    if !state.registration {
        return Err(ApiError::detail(
            StatusCode::FORBIDDEN,
            "Registration is disabled.",
        ));
    }
    let Register { email, password } = Register::parse(&body)?;
    match create_user(&state.db, &email, &password, Role::Customer).await {
        Ok(id) => Ok(ok(RegisteredData {
            user: RegisteredUser {
                id,
                email,
                role: Role::Customer.as_str().to_owned(),
            },
        })),
        Err(CreateUserError::Exists(_)) => Err(ApiError::field(
            "email",
            "A user with that email already exists.",
        )),
        Err(CreateUserError::InvalidEmail(_, message)) => Err(ApiError::field("email", message)),
        Err(CreateUserError::EmptyPassword) => Err(ApiError::field("password", BLANK)),
        Err(CreateUserError::Store(e)) => Err(e.into()),
        Err(CreateUserError::Hashing(e)) => Err(ApiError::Internal(e)),
    }
}
