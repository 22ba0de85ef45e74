//! `/admin/webhooks/…`: administrators register endpoints, see their deliveries and attempts,
//! rotate secrets and send a delivery again. The command line (`supportdesk webhook`) does the
//! same through the same store functions. A signing secret is shown at creation and rotation
//! only.

use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::domain::fields::{self, AllFields, Fields, field};
use crate::domain::time::format_micros;
use crate::http::envelope::{ApiError, ok};
use crate::http::extract::{Admin, FormBody};
use crate::http::inputs::webhooks::{NewWebhook, changes};
use crate::http::path::Id;
use crate::http::schema::{Envelope, ErrorEnvelope};
use crate::services::notify::signing;
use crate::services::notify::webhooks::{message_id, sender};
use crate::store::webhook_deliveries::{self as deliveries, DeliveryRow};
use crate::store::webhooks::{self, Endpoint};

/// An endpoint, as the admin API shows it (never its secret).
#[derive(Serialize, ToSchema)]
pub struct Webhook {
    pub id: i64,
    #[schema(example = "https://hooks.example.com/supportdesk")]
    pub url: String,
    /// Event names, or `["*"]` for every event.
    #[schema(example = json!(["ticket.created", "ticket.agent_replied"]))]
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Why it is disabled: automatically after failing for `SUPPORTDESK_WEBHOOK_DISABLE_AFTER`
    /// (with the last error), or by an administrator.
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    /// Every attempt has failed since then.
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Webhook {
    pub fn new(e: &Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url.clone(),
            events: e.events.names(),
            description: e.description.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            disabled_at: e.disabled_at.map(format_micros),
            failing_since: e.failing_since.map(format_micros),
            created_at: format_micros(e.created_at),
            updated_at: format_micros(e.updated_at),
        }
    }
}

/// An endpoint with its signing secret: the answer of create and rotate-secret only.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and the base64 of 32 random bytes; shown this once.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookData {
    pub webhook: Webhook,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookSecretData {
    pub webhook: WebhookWithSecret,
}

#[derive(Serialize, ToSchema)]
pub struct WebhooksData {
    pub webhooks: Vec<Webhook>,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedWebhookData {
    pub id: i64,
    pub deleted: bool,
}

/// One attempt to deliver.
#[derive(Serialize, ToSchema)]
pub struct AttemptItem {
    pub attempted_at: String,
    /// The answer's HTTP status; `null` when none came (see `error`).
    pub status: Option<i64>,
    /// Why the attempt failed (`HTTP status 500`, a timeout, a refused connection, an address
    /// the SSRF guard refused), `null` when it succeeded.
    pub error: Option<String>,
    pub duration_ms: i64,
    /// The first 1 KiB of the answer's body.
    pub response: Option<String>,
}

/// One event sent (or to be sent) to one endpoint, with its attempts, oldest first.
#[derive(Serialize, ToSchema)]
pub struct DeliveryItem {
    pub id: i64,
    /// The `webhook-id` header: the same on every attempt.
    #[schema(example = "msg_42")]
    pub webhook_id: String,
    pub event_id: i64,
    #[serde(rename = "type")]
    #[schema(example = "ticket.created")]
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (every attempt of the retry schedule failed).
    pub state: String,
    pub created_at: String,
    /// When the next attempt is due, for a pending delivery.
    pub next_attempt_at: Option<String>,
    pub attempts: Vec<AttemptItem>,
}

impl DeliveryItem {
    fn new(d: &DeliveryRow) -> Self {
        Self {
            id: d.id,
            webhook_id: message_id(d.id),
            event_id: d.event_id,
            event_type: d.event_type.clone(),
            state: d.state.clone(),
            created_at: format_micros(d.created_at),
            next_attempt_at: (d.state == "pending").then(|| format_micros(d.available_at)),
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptItem {
                    attempted_at: format_micros(a.at),
                    status: a.status,
                    error: a.error.clone(),
                    duration_ms: a.duration_ms,
                    response: a.response.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveriesData {
    /// Newest first.
    pub deliveries: Vec<DeliveryItem>,
    /// Pass as `before` for the next (older) page; `null` on the last page.
    pub next_before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct RedeliveredData {
    pub id: i64,
    pub webhook_id: String,
    pub state: String,
}

/// The fields of `POST admin/webhooks/`.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document only")]
pub struct WebhookFields {
    #[schema(example = "https://hooks.example.com/supportdesk", max_length = 2000)]
    url: String,
    /// Event names, or `["*"]` (the default) for every event.
    #[schema(example = json!(["*"]))]
    events: Option<Vec<String>>,
    #[schema(max_length = 1000)]
    description: Option<String>,
}

/// The fields of `PATCH admin/webhooks/{id}/`, each optional.
#[derive(ToSchema)]
#[expect(dead_code, reason = "describes the body in the OpenAPI document only")]
pub struct WebhookUpdateFields {
    #[schema(max_length = 2000)]
    url: Option<String>,
    events: Option<Vec<String>>,
    #[schema(max_length = 1000)]
    description: Option<String>,
    /// `true` re-enables a disabled endpoint (and forgets why it was disabled).
    enabled: Option<bool>,
}

/// The two ids of `…/{id}/deliveries/{delivery_id}/…`; anything else is 404.
pub struct TwoIds(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for TwoIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((a, b)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found())?;
        match (a.trim().parse(), b.trim().parse()) {
            (Ok(a), Ok(b)) => Ok(Self(a, b)),
            _ => Err(ApiError::not_found()),
        }
    }
}

/// The URL may be a target (after DNS, unless private targets are allowed), or the field error.
async fn reachable(state: &AppState, url: &str) -> Result<(), ApiError> {
    sender::check_target(url, state.webhooks.allow_private)
        .await
        .map(drop)
        .map_err(|refusal| ApiError::field("url", refusal))
}

async fn endpoint_or_404(state: &AppState, id: i64) -> Result<Endpoint, ApiError> {
    webhooks::get(&state.db, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

#[utoipa::path(
    post,
    path = "/admin/webhooks",
    tag = "admin",
    operation_id = "create_webhook",
    summary = "Register a webhook endpoint (its secret is shown once)",
    request_body = WebhookFields,
    responses((status = 200, description = "Done", body = Envelope<WebhookSecretData>))
)]
pub async fn create(
    State(state): State<AppState>,
    _admin: Admin,
    body: FormBody,
) -> Result<Response, ApiError> {
    let (endpoint, secret) = register(&state, &body).await?;
    Ok(ok(WebhookSecretData {
        webhook: WebhookWithSecret {
            webhook: Webhook::new(&endpoint),
            secret,
        },
    }))
}

/// Registers an endpoint from the form's fields; answers it with its new signing secret (whose
/// only showing is in the answer). The API's and the console's one way.
pub async fn register(state: &AppState, body: &FormBody) -> Result<(Endpoint, String), ApiError> {
    let NewWebhook {
        url,
        events,
        description,
    } = NewWebhook::parse(body)?;
    reachable(state, &url).await?;
    let secret = signing::new_secret();
    let endpoint = webhooks::create(&state.db, &url, &events, &description, &secret).await?;
    Ok((endpoint, secret))
}

/// Applies what the form gives (URL, events, description, enabled); 404 for an unknown id.
pub async fn change(state: &AppState, id: i64, body: &FormBody) -> Result<Endpoint, ApiError> {
    let changes = changes(body)?;
    if let Some(url) = &changes.url {
        reachable(state, url).await?;
    }
    if !webhooks::update(&state.db, id, &changes).await? {
        return Err(ApiError::not_found());
    }
    endpoint_or_404(state, id).await
}

/// Replaces an endpoint's signing secret; answers the endpoint and the new secret.
pub async fn new_secret(state: &AppState, id: i64) -> Result<(Endpoint, String), ApiError> {
    let secret = signing::new_secret();
    if !webhooks::set_secret(&state.db, id, &secret).await? {
        return Err(ApiError::not_found());
    }
    Ok((endpoint_or_404(state, id).await?, secret))
}

/// Queues a delivery of endpoint `id` again (404 for another endpoint's, 409 while in flight).
pub async fn queue_redelivery(state: &AppState, id: i64, delivery_id: i64) -> Result<(), ApiError> {
    // Another endpoint's delivery is "not found" here, as a missing one is.
    match deliveries::redeliver(&state.db, id, delivery_id).await? {
        deliveries::Redelivery::Queued => Ok(()),
        deliveries::Redelivery::NotFound => Err(ApiError::not_found()),
        deliveries::Redelivery::InFlight => Err(ApiError::detail(StatusCode::CONFLICT, IN_FLIGHT)),
    }
}

#[utoipa::path(
    get,
    path = "/admin/webhooks",
    tag = "admin",
    operation_id = "webhooks",
    summary = "Every webhook endpoint (never a secret)",
    responses((status = 200, description = "Done", body = Envelope<WebhooksData>))
)]
pub async fn list(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let endpoints = webhooks::list(&state.db).await?;
    Ok(ok(WebhooksData {
        webhooks: endpoints.iter().map(Webhook::new).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/admin/webhooks/{id}",
    tag = "admin",
    operation_id = "webhook",
    summary = "A webhook endpoint, with why it is disabled if it is",
    params(("id" = i64, Path)),
    responses((status = 200, description = "Done", body = Envelope<WebhookData>))
)]
pub async fn show(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let endpoint = endpoint_or_404(&state, id).await?;
    Ok(ok(WebhookData {
        webhook: Webhook::new(&endpoint),
    }))
}

#[utoipa::path(
    patch,
    path = "/admin/webhooks/{id}",
    tag = "admin",
    operation_id = "update_webhook",
    summary = "Change a webhook endpoint; enable or disable it",
    params(("id" = i64, Path)),
    request_body = WebhookUpdateFields,
    responses((status = 200, description = "Done", body = Envelope<WebhookData>))
)]
pub async fn update(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
    body: FormBody,
) -> Result<Response, ApiError> {
    let endpoint = change(&state, id, &body).await?;
    Ok(ok(WebhookData {
        webhook: Webhook::new(&endpoint),
    }))
}

#[utoipa::path(
    delete,
    path = "/admin/webhooks/{id}",
    tag = "admin",
    operation_id = "delete_webhook",
    summary = "Remove a webhook endpoint, its pending deliveries and its log",
    params(("id" = i64, Path)),
    responses((status = 200, description = "Done", body = Envelope<DeletedWebhookData>))
)]
pub async fn delete(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    if webhooks::delete(&state.db, id).await? {
        Ok(ok(DeletedWebhookData { id, deleted: true }))
    } else {
        Err(ApiError::not_found())
    }
}

#[utoipa::path(
    post,
    path = "/admin/webhooks/{id}/rotate-secret",
    tag = "admin",
    operation_id = "rotate_webhook_secret",
    summary = "Replace the signing secret (the new one is shown once)",
    params(("id" = i64, Path)),
    responses((status = 200, description = "Done", body = Envelope<WebhookSecretData>))
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let (endpoint, secret) = new_secret(&state, id).await?;
    Ok(ok(WebhookSecretData {
        webhook: WebhookWithSecret {
            webhook: Webhook::new(&endpoint),
            secret,
        },
    }))
}

/// Most deliveries in one page.
const DELIVERIES_MAX: i64 = 100;

#[utoipa::path(
    get,
    path = "/admin/webhooks/{id}/deliveries",
    tag = "admin",
    operation_id = "webhook_deliveries",
    summary = "An endpoint's deliveries, newest first, each with its attempts",
    params(
        ("id" = i64, Path),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Default 20"),
        ("before" = Option<i64>, Query, description = "next_before of the previous page")
    ),
    responses((status = 200, description = "Done", body = Envelope<DeliveriesData>))
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    _admin: Admin,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = Fields::from_query(query.as_deref());
    let (_, limit) = fields::page(&query, 20, DELIVERIES_MAX);
    let before = match fields::query_integer(query.text("before").as_deref()) {
        Ok(before) => Ok(before),
        Err(()) => Err(fields::VALID_INTEGER),
    };
    let (limit, before) = (limit, field("before", before)).all()?;
    endpoint_or_404(&state, id).await?;
    let rows = deliveries::for_endpoint(&state.db, id, limit, before).await?;
    let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) == limit;
    Ok(ok(DeliveriesData {
        next_before: rows.last().filter(|_| full).map(|d| d.id),
        deliveries: rows.iter().map(DeliveryItem::new).collect(),
    }))
}

/// Why a redelivery was not queued: one attempt at a time, so nothing is sent twice at once.
pub const IN_FLIGHT: &str = "An attempt of this delivery is being sent right now; \
     ask again once it has ended.";

#[utoipa::path(
    post,
    path = "/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    tag = "admin",
    operation_id = "redeliver_webhook",
    summary = "Send a delivery again, now, with the same webhook-id and a fresh retry schedule",
    params(("id" = i64, Path), ("delivery_id" = i64, Path)),
    responses(
        (status = 200, description = "Done", body = Envelope<RedeliveredData>),
        (status = 409, description = "An attempt of this delivery is in flight; nothing changed", body = ErrorEnvelope)
    )
)]
pub async fn redeliver(
    State(state): State<AppState>,
    _admin: Admin,
    TwoIds(id, delivery_id): TwoIds,
) -> Result<Response, ApiError> {
    queue_redelivery(&state, id, delivery_id).await?;
    Ok(ok(RedeliveredData {
        id: delivery_id,
        webhook_id: message_id(delivery_id),
        state: "pending".to_owned(),
    }))
}
