//! Email in: the raw endpoint a mail server pipes mail to, and the administrators' quarantine.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::time::format_micros;
use crate::http::envelope::{ApiError, ok};
use crate::http::extract::Admin;
use crate::http::path::Id;
use crate::http::schema::Envelope;
use crate::services::inbound::{RAW_MAILBOX, intake};
use crate::store::inbound::{self as kept, Listed, Retry, Stored};

/// The answer to a posted mail.
#[derive(Serialize, ToSchema)]
pub struct AcceptedData {
    /// The kept message's id; `null` when the same Message-ID was kept before.
    pub id: Option<i64>,
    pub duplicate: bool,
}

/// A kept message as the quarantine lists it (its bytes stay in the database).
#[derive(Serialize, ToSchema)]
pub struct InboundMessage {
    pub id: i64,
    /// `raw` (the endpoint) or `imap://user@host:port/MAILBOX`.
    pub mailbox: String,
    pub message_id: String,
    pub size: i64,
    pub state: String,
    /// Why it is quarantined.
    pub reason: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub received_at: String,
}

impl InboundMessage {
    fn new(m: &Listed) -> Self {
        Self {
            id: m.id,
            mailbox: m.mailbox.clone(),
            message_id: m.message_id.clone(),
            size: m.size,
            state: m.state.clone(),
            reason: m.reason.clone(),
            sender: m.sender.clone(),
            subject: m.subject.clone(),
            received_at: format_micros(m.received_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct QuarantineData {
    pub messages: Vec<InboundMessage>,
}

#[derive(Serialize, ToSchema)]
pub struct QuarantineActionData {
    pub id: i64,
    /// `retried` (back to processing) or `deleted`.
    pub done: String,
}

/// Most messages one quarantine page lists.
const QUARANTINE_PAGE: i64 = 500;

/// A mail, raw (RFC 5322 bytes), from a mail server: kept before the answer, then processed
/// like mail read over IMAP. 202 also for a duplicate and for mail that will be ignored (an
/// auto-reply): a 4xx would make the mail server bounce it.
#[utoipa::path(
    post,
    path = "/inbound/email",
    tag = "inbound",
    operation_id = "inbound_email",
    summary = "Post one mail, raw (a mail server's pipe)",
    security(("bearer" = [])),
    request_body(content = String, content_type = "message/rfc822", description = "The mail as received, headers and body"),
    responses(
        (status = 202, description = "Kept (or kept before); processed in the background", body = Envelope<AcceptedData>),
        (status = 401, description = "No or a wrong token; always while SUPPORTDESK_INBOUND_TOKEN is unset (the endpoint is off)"),
        (status = 415, description = "Not message/rfc822")
    )
)]
pub async fn email(State(state): State<AppState>, req: Request) -> Result<Response, ApiError> {
    // Without SUPPORTDESK_INBOUND_TOKEN no token is right: 401 like a wrong one, so the
    // endpoint answers alike whether it is off or the caller lacks the token.
    let token = state.inbound.token.as_deref().unwrap_or("");
    let sent = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Digests compared in constant time: neither the token nor its length leaks by timing.
    let matches: bool = Sha256::digest(sent.trim().as_bytes())
        .ct_eq(&Sha256::digest(token.as_bytes()))
        .into();
    if token.is_empty() || sent.is_empty() || !matches {
        return Err(ApiError::Unauthorized {
            field: "authorization",
            message: "Invalid or missing inbound token.",
        });
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if content_type != "message/rfc822" {
        return Err(ApiError::detail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be message/rfc822.",
        ));
    }
    let raw = read_limited(req.into_body(), state.inbound.max_bytes, state.body_timeout).await?;
    if raw.is_empty() {
        return Err(ApiError::Field("body", "The mail is empty.".to_owned()));
    }
    let stored = intake(&state.db, &state.inbound, RAW_MAILBOX, &raw, None).await?;
    let data = match stored {
        Stored::New(id) => AcceptedData {
            id: Some(id),
            duplicate: false,
        },
        Stored::Duplicate => AcceptedData {
            id: None,
            duplicate: true,
        },
    };
    Ok(accepted(data))
}

/// How much of an oversize mail is read and thrown away after the part that is kept. The
/// sender is still writing when the desk has seen enough: had the rest gone unread, the server
/// would close the connection under the sender's upload and the sender (a mail relay that
/// retries) would see a broken connection instead of the 202 it was owed. Past this much the
/// connection is closed after all: a sender that big gets no promise.
const DRAIN_MAX: usize = 64 * 1024 * 1024;

/// Keeps at most `max + 1` bytes (enough to tell an oversize mail, which is then kept
/// quarantined); up to [`DRAIN_MAX`] more are read and dropped so that the answer arrives.
async fn read_limited(
    body: Body,
    max: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, ApiError> {
    let read = async {
        let mut stream = body.into_data_stream();
        let mut raw = Vec::new();
        let mut dropped = 0usize;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| {
                ApiError::detail(StatusCode::BAD_REQUEST, "The body could not be read.")
            })?;
            let room = max
                .saturating_add(1)
                .saturating_sub(raw.len())
                .min(chunk.len());
            raw.extend_from_slice(&chunk[..room]);
            dropped = dropped.saturating_add(chunk.len() - room);
            if dropped > DRAIN_MAX {
                break;
            }
        }
        Ok(raw)
    };
    tokio::time::timeout(timeout, read).await.map_err(|_| {
        ApiError::detail(
            StatusCode::REQUEST_TIMEOUT,
            "The body took too long to arrive.",
        )
    })?
}

fn accepted(data: AcceptedData) -> Response {
    let body = serde_json::json!({"status_code": 202, "errors": {}, "data": data});
    let mut response = (StatusCode::ACCEPTED, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[utoipa::path(
    get,
    path = "/admin/inbound/quarantine",
    tag = "admin",
    operation_id = "inbound_quarantine",
    summary = "Mail that could not be processed (oldest first, at most 500)",
    responses((status = 200, description = "Done", body = Envelope<QuarantineData>))
)]
pub async fn quarantine(
    State(state): State<AppState>,
    _admin: Admin,
) -> Result<Response, ApiError> {
    let list = kept::quarantined(&state.db, QUARANTINE_PAGE).await?;
    Ok(ok(QuarantineData {
        messages: list.iter().map(InboundMessage::new).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/admin/inbound/quarantine/{id}/retry",
    tag = "admin",
    operation_id = "inbound_quarantine_retry",
    summary = "Process a quarantined mail again",
    params(("id" = i64, Path)),
    responses((status = 200, description = "Done", body = Envelope<QuarantineActionData>))
)]
pub async fn retry(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    match kept::retry(&state.db, id).await? {
        Retry::Done => {}
        Retry::NotFound => return Err(ApiError::not_found()),
        Retry::Truncated => {
            return Err(ApiError::detail(
                StatusCode::CONFLICT,
                "Only the beginning of this oversize mail was kept; it cannot be processed.",
            ));
        }
    }
    state.inbound.wake.notify_one();
    Ok(ok(QuarantineActionData {
        id,
        done: "retried".to_owned(),
    }))
}

#[utoipa::path(
    delete,
    path = "/admin/inbound/quarantine/{id}",
    tag = "admin",
    operation_id = "inbound_quarantine_delete",
    summary = "Delete a quarantined mail for good",
    params(("id" = i64, Path)),
    responses((status = 200, description = "Done", body = Envelope<QuarantineActionData>))
)]
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    if !kept::delete(&state.db, id).await? {
        return Err(ApiError::not_found());
    }
    Ok(ok(QuarantineActionData {
        id,
        done: "deleted".to_owned(),
    }))
}
