//! The `{status_code, errors, data}` envelope of every JSON answer, and [`ApiError`], the one
//! error type that becomes it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::store::StoreError;

pub use crate::domain::fields::FieldErrors;

/// Everything that ends a request early.
#[derive(Debug)]
pub enum ApiError {
    /// 400 with messages per field.
    Invalid(FieldErrors),
    /// 400 with one message under one field.
    Field(&'static str, String),
    /// 401 for a missing or bad credential, under `apikey` or `authorization`.
    Unauthorized {
        field: &'static str,
        message: &'static str,
    },
    /// Any other status with one message under `detail`.
    Detail(StatusCode, String),
    /// 503: the database is unreachable now; the client may retry.
    Unavailable(String),
    /// 500: a bug or an unexpected failure; logged, never shown.
    Internal(anyhow::Error),
}

pub const API_KEY_REQUIRED: &str = "API key is required.";
pub const API_KEY_INVALID: &str = "Invalid API key.";
pub const TOKEN_MISSING: &str = "Authentication credentials were not provided.";
pub const TOKEN_INVALID: &str = "Invalid or expired access token.";

impl ApiError {
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Self::Field(field, message.into())
    }

    pub fn detail(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Detail(status, message.into())
    }

    pub fn not_found() -> Self {
        Self::detail(StatusCode::NOT_FOUND, "Not found.")
    }

    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Invalid(errors)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(e) => Self::Unavailable(e.to_string()),
            other => Self::Internal(other.into()),
        }
    }
}

/// A JSON answer in the envelope.
pub fn envelope(status: StatusCode, errors: Value, data: Value) -> Response {
    let body = json!({
        "status_code": status.as_u16(),
        "errors": errors,
        "data": data,
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// 200 with `data`, serialized straight into the body: the answers of the read routes are
/// the service's hottest bytes, so no intermediate JSON tree is built.
pub fn ok<T: serde::Serialize>(data: T) -> Response {
    #[derive(serde::Serialize)]
    struct Answer<T> {
        status_code: u16,
        errors: Empty,
        data: T,
    }
    #[derive(serde::Serialize)]
    struct Empty {}
    let body = Answer {
        status_code: StatusCode::OK.as_u16(),
        errors: Empty {},
        data,
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => {
            let mut response = (StatusCode::OK, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(err) => ApiError::internal(err).into_response(),
    }
}

fn one(field: &str, message: &str) -> Value {
    json!({ field: [message] })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Invalid(errors) => {
                envelope(StatusCode::BAD_REQUEST, json!(errors.as_map()), json!({}))
            }
            Self::Field(field, message) => {
                envelope(StatusCode::BAD_REQUEST, one(field, &message), json!({}))
            }
            Self::Unauthorized { field, message } => {
                let mut response =
                    envelope(StatusCode::UNAUTHORIZED, one(field, message), json!({}));
                if field == "authorization" {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                }
                response
            }
            Self::Detail(status, message) => envelope(status, one("detail", &message), json!({})),
            Self::Unavailable(reason) => {
                tracing::warn!(%reason, "dependency unavailable");
                let mut response = envelope(
                    StatusCode::SERVICE_UNAVAILABLE,
                    one(
                        "detail",
                        "Service temporarily unavailable, try again shortly.",
                    ),
                    json!({}),
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
            Self::Internal(err) => {
                // The request id is on the enclosing span; the client gets only the id header.
                tracing::error!(error = ?err, "internal error");
                internal_error_response()
            }
        }
    }
}

/// The one answer for an unexpected failure: no detail beyond the request id header.
pub fn internal_error_response() -> Response {
    envelope(
        StatusCode::INTERNAL_SERVER_ERROR,
        one("detail", "Internal server error."),
        json!({}),
    )
}
