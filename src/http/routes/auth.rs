//! Sign-in: an email and password for a bearer token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value as Json, json};

use crate::app::AppState;
use crate::domain::fields::{self, BLANK, NOT_A_STRING, NULL, REQUIRED, Raw};
use crate::domain::people::normalize_email;
use crate::domain::secrets::{dummy_password_hash, verify_password};
use crate::http::envelope::{ApiError, FieldErrors, ok};
use crate::http::extract::{ClientApp, FormBody};
use crate::services::tokens::issue_access_token;
use crate::store::accounts;

const BAD_CREDENTIALS: &str = "Unable to log in with provided credentials.";

/// A password is taken exactly as sent: trimming would change the secret.
fn password(raw: Option<&Raw>) -> Result<String, &'static str> {
    match raw {
        None => Err(REQUIRED),
        Some(Raw::Json(Json::Null)) => Err(NULL),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) if s.is_empty() => Err(BLANK),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) => Ok(s.clone()),
        Some(Raw::Json(_)) => Err(NOT_A_STRING),
    }
}

/// `POST /api/v1/auth/token/`.
pub async fn sign_in(
    State(state): State<AppState>,
    _client: ClientApp,
    body: FormBody,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let email = errors.check("email", fields::text(body.get("email"), 254));
    let password = errors.check("password", password(body.get("password")));
    errors.into_result()?;
    let (Some(email), Some(password)) = (email, password) else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };

    let user = accounts::find_user_by_email(&state.db, &normalize_email(&email)).await?;
    // Verify against a dummy hash for unknown emails, so the answer takes about as long.
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| dummy_password_hash().to_owned());
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(ApiError::internal)?;
    let person = match user {
        Some(user) if matches && user.active => user.person,
        _ => return Err(ApiError::detail(StatusCode::UNAUTHORIZED, BAD_CREDENTIALS)),
    };
    let token = issue_access_token(&state.db, person.id, state.token_ttl_secs).await?;
    Ok(ok(json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": state.token_ttl_secs,
    })))
}
