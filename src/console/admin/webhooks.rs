//! Webhooks: endpoints (register, with the signing secret shown once; enable, disable, rotate
//! the secret, shown once; delete) and an endpoint's recent deliveries with their attempts,
//! each with a button to send it again.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{AdminFrame, AdminOnly, FormState, Outcome, PageId, PageIds, Shown, done, frames};
use crate::app::AppState;
use crate::console::pages::{Frame, PageResult, when};
use crate::console::signin::check_csrf;
use crate::http::envelope::ApiError;
use crate::http::extract::FormBody;
use crate::http::inputs::webhooks::{DESCRIPTION_MAX_CHARS, URL_MAX_CHARS};
use crate::http::routes::webhooks::{change, new_secret, queue_redelivery, register};
use crate::services::notify::webhooks::message_id;
use crate::store::webhook_deliveries as deliveries;
use crate::store::webhooks::{self, Endpoint};

const SECTION: &str = "/console/admin/webhooks";
/// Deliveries shown on an endpoint's page.
const RECENT: i64 = 25;

pub struct EndpointRow {
    pub id: i64,
    pub url: String,
    pub events: String,
    pub description: String,
    pub enabled: bool,
    pub disabled_reason: String,
    pub failing_since: String,
    pub created: String,
}

impl EndpointRow {
    fn new(e: &Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url.clone(),
            events: e.events.names().join(", "),
            description: e.description.clone(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone().unwrap_or_default(),
            failing_since: e.failing_since.map(when).unwrap_or_default(),
            created: when(e.created_at),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin/webhooks.html")]
struct WebhooksPage {
    frame: Frame,
    admin: AdminFrame,
    form: FormState,
    page_title: &'static str,
    rows: Vec<EndpointRow>,
    url_max: usize,
    description_max: usize,
    shown: Option<Shown>,
}

async fn show_list(
    state: &AppState,
    admin: &AdminOnly,
    outcome: Outcome,
    shown: Option<Shown>,
) -> PageResult {
    let endpoints = webhooks::list(&state.db).await?;
    let (frame, admin_frame) = frames(state, admin, SECTION, &outcome).await?;
    let page = WebhooksPage {
        frame,
        admin: admin_frame,
        page_title: "Webhooks",
        rows: endpoints.iter().map(EndpointRow::new).collect(),
        url_max: URL_MAX_CHARS,
        description_max: DESCRIPTION_MAX_CHARS,
        form: outcome.form,
        shown,
    };
    Ok((outcome.status, page).into_response())
}

/// `GET /console/admin/webhooks`.
pub async fn list(
    State(state): State<AppState>,
    admin: AdminOnly,
    RawQuery(query): RawQuery,
) -> PageResult {
    show_list(&state, &admin, Outcome::from_query(query.as_deref()), None).await
}

/// `POST /console/admin/webhooks`: url, events (comma-separated, `*` for every event),
/// description. The answer shows the signing secret, that once.
pub async fn create(State(state): State<AppState>, admin: AdminOnly, body: FormBody) -> PageResult {
    check_csrf(&admin.0, &body)?;
    match register(&state, &body).await {
        Ok((endpoint, secret)) => {
            let shown = Shown {
                title: format!("The signing secret of {}", endpoint.url),
                value: secret,
            };
            let mut outcome = Outcome::ok();
            outcome.status = StatusCode::CREATED;
            show_list(&state, &admin, outcome, Some(shown)).await
        }
        Err(err) => {
            let outcome = Outcome::refused(err, "new", &body, &["url", "events", "description"])?;
            show_list(&state, &admin, outcome, None).await
        }
    }
}

pub struct AttemptLine {
    pub when: String,
    pub result: String,
    pub ok: bool,
    pub duration_ms: i64,
}

pub struct DeliveryLine {
    pub id: i64,
    pub webhook_id: String,
    pub event_type: String,
    pub state: String,
    pub created: String,
    pub next_attempt: String,
    pub attempts: Vec<AttemptLine>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin/webhook.html")]
struct WebhookPage {
    frame: Frame,
    admin: AdminFrame,
    page_title: String,
    endpoint: EndpointRow,
    deliveries: Vec<DeliveryLine>,
    shown: Option<Shown>,
}

async fn show_endpoint(
    state: &AppState,
    admin: &AdminOnly,
    id: i64,
    outcome: Outcome,
    shown: Option<Shown>,
) -> PageResult {
    let Some(endpoint) = webhooks::get(&state.db, id).await? else {
        return Err(ApiError::not_found().into());
    };
    let rows = deliveries::for_endpoint(&state.db, id, RECENT, None).await?;
    let (frame, admin_frame) = frames(state, admin, SECTION, &outcome).await?;
    let page = WebhookPage {
        frame,
        admin: admin_frame,
        page_title: endpoint.url.clone(),
        endpoint: EndpointRow::new(&endpoint),
        deliveries: rows
            .iter()
            .map(|d| DeliveryLine {
                id: d.id,
                webhook_id: message_id(d.id),
                event_type: d.event_type.clone(),
                state: d.state.clone(),
                created: when(d.created_at),
                next_attempt: if d.state == "pending" {
                    when(d.available_at)
                } else {
                    String::new()
                },
                attempts: d
                    .attempts
                    .iter()
                    .map(|a| AttemptLine {
                        when: when(a.at),
                        result: match (&a.error, a.status) {
                            (Some(error), _) => error.clone(),
                            (None, Some(status)) => format!("HTTP {status}"),
                            (None, None) => "No answer".to_owned(),
                        },
                        ok: a.error.is_none(),
                        duration_ms: a.duration_ms,
                    })
                    .collect(),
            })
            .collect(),
        shown,
    };
    Ok((outcome.status, page).into_response())
}

fn endpoint_path(id: i64) -> String {
    format!("{SECTION}/{id}")
}

/// `GET /console/admin/webhooks/{id}`: the endpoint and its recent deliveries.
pub async fn endpoint(
    State(state): State<AppState>,
    admin: AdminOnly,
    PageId(id): PageId,
    RawQuery(query): RawQuery,
) -> PageResult {
    show_endpoint(
        &state,
        &admin,
        id,
        Outcome::from_query(query.as_deref()),
        None,
    )
    .await
}

/// `POST /console/admin/webhooks/{id}`: `enabled` true or false.
pub async fn update(
    State(state): State<AppState>,
    admin: AdminOnly,
    PageId(id): PageId,
    body: FormBody,
) -> PageResult {
    check_csrf(&admin.0, &body)?;
    match change(&state, id, &body).await {
        Ok(endpoint) => Ok(done(
            &endpoint_path(id),
            if endpoint.enabled {
                "enabled"
            } else {
                "disabled"
            },
        )),
        Err(err) => {
            let outcome = Outcome::refused(err, "endpoint", &body, &[])?;
            show_endpoint(&state, &admin, id, outcome, None).await
        }
    }
}

/// `POST /console/admin/webhooks/{id}/rotate`: a new signing secret, shown once.
pub async fn rotate(
    State(state): State<AppState>,
    admin: AdminOnly,
    PageId(id): PageId,
    body: FormBody,
) -> PageResult {
    check_csrf(&admin.0, &body)?;
    match new_secret(&state, id).await {
        Ok((_, secret)) => {
            let shown = Shown {
                title: "The new signing secret".to_owned(),
                value: secret,
            };
            show_endpoint(&state, &admin, id, Outcome::ok(), Some(shown)).await
        }
        Err(err) => {
            let outcome = Outcome::refused(err, "rotate", &body, &[])?;
            show_list(&state, &admin, outcome, None).await
        }
    }
}

/// `POST /console/admin/webhooks/{id}/delete`: the endpoint, its pending deliveries and log.
pub async fn delete(
    State(state): State<AppState>,
    admin: AdminOnly,
    PageId(id): PageId,
    body: FormBody,
) -> PageResult {
    check_csrf(&admin.0, &body)?;
    if webhooks::delete(&state.db, id).await? {
        Ok(done(SECTION, "deleted"))
    } else {
        let outcome = Outcome::refused(ApiError::not_found(), "delete", &body, &[])?;
        show_list(&state, &admin, outcome, None).await
    }
}

/// `POST /console/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver`.
pub async fn redeliver(
    State(state): State<AppState>,
    admin: AdminOnly,
    PageIds(id, delivery_id): PageIds,
    body: FormBody,
) -> PageResult {
    check_csrf(&admin.0, &body)?;
    match queue_redelivery(&state, id, delivery_id).await {
        Ok(()) => Ok(done(&endpoint_path(id), "redelivered")),
        Err(err) => {
            let outcome = Outcome::refused(err, "redeliver", &body, &[])?;
            match webhooks::get(&state.db, id).await? {
                Some(_) => show_endpoint(&state, &admin, id, outcome, None).await,
                None => show_list(&state, &admin, outcome, None).await,
            }
        }
    }
}
