//! Endpoints 2, 3, 5, 6, 8 and 9: a customer's own tickets.
//!
//! Each handler follows the contract's check order: credentials (extractors), the body
//! (extractor), every field error together, then ownership and state, then the open-ticket
//! limit.

use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;

use crate::app::AppState;
use crate::domain::fields::{
    self, COMMENT_MAX_CHARS, NOT_OWNER, PkRef, Raw, SUBJECT_MAX_CHARS, TICKET_ID_INVALID,
    VALID_INTEGER,
};
use crate::domain::ticket::{CustomerStatusRequest, Priority};
use crate::http::envelope::{ApiError, FieldErrors, ok};
use crate::http::extract::{Caller, FormBody, read_body_in_time};
use crate::http::schema::*;
use crate::http::schema::{
    ConversationData, CreatedTicketData, DetailData, HistoryData, TicketData,
};
use crate::http::uploads::{check_attachments, put_uploads};
use crate::http::views::{AttachmentItem, ConversationItem, DetailTicket, HistoryItem};
use crate::store::tickets::{self, HistoryFilter, NewTicket, Outcome, TicketRow};

const HISTORY_DEFAULT_LIMIT: i64 = 50;
const HISTORY_MAX_LIMIT: i64 = 1000;

fn limit_exceeded() -> ApiError {
    ApiError::detail(
        StatusCode::UNAUTHORIZED,
        "Currently Open Ticket Limit Exceed.",
    )
}

fn priority_of(choice: &str) -> Option<Priority> {
    choice.parse().ok().and_then(Priority::from_code)
}

/// The ticket field of endpoints 5 and 9: the ticket it names, or its message recorded.
async fn ticket_field(
    state: &AppState,
    errors: &mut FieldErrors,
    raw: Option<&Raw>,
) -> Result<Option<TicketRow>, ApiError> {
    let Some(pk) = errors.check("ticket", fields::ticket_ref(raw)) else {
        return Ok(None);
    };
    let ticket = existing_ticket(state, &pk).await?;
    if ticket.is_none() {
        errors.add("ticket", TICKET_ID_INVALID);
    }
    Ok(ticket)
}

/// The ticket a `ticket_id` names, or the contract's "not valid" message.
async fn existing_ticket(state: &AppState, pk: &PkRef) -> Result<Option<TicketRow>, ApiError> {
    match pk.id {
        Some(id) => Ok(tickets::find_ticket(&state.db, id).await?),
        None => Ok(None),
    }
}

/// Endpoint 2.
#[utoipa::path(
    post,
    path = "/support/create/ticket",
    tag = "customer",
    operation_id = "create_ticket",
    summary = "Create a ticket",
    request_body(content((CreateTicketFields = "application/json"), (CreateTicketMultipart = "multipart/form-data"))),
    responses((status = 200, description = "Done", body = Envelope<CreatedTicketData>))
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(person): Caller,
    body: FormBody,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let subject = errors.check(
        "subject",
        fields::text(body.get("subject"), SUBJECT_MAX_CHARS),
    );
    let priority = errors
        .check(
            "priority",
            fields::choice(body.get("priority"), Priority::CHOICES),
        )
        .and_then(|c| priority_of(&c));
    let comment = errors.check(
        "comment",
        fields::text(body.get("comment"), COMMENT_MAX_CHARS),
    );
    let mut category = None;
    if let Some(pk) = errors.check("category", fields::pk(body.get("category"))) {
        match pk.id {
            Some(id) if tickets::category_is_active(&state.db, id).await? => category = Some(id),
            _ => errors.add("category", fields::no_such_object(&pk.sent)),
        }
    }
    check_attachments(&mut errors, &body);
    errors.into_result()?;
    let (Some(subject), Some(priority), Some(comment), Some(category_id)) =
        (subject, priority, comment, category)
    else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };

    let attachments = put_uploads(&state, body.files).await?;
    let new = NewTicket {
        author_id: person.id,
        subject: &subject,
        priority,
        category_id,
        comment: &comment,
    };
    let outcome = tickets::create_ticket(
        &state.db,
        new,
        attachments.list(),
        state.open_ticket_limit(),
    )
    .await;
    // Refused or failed: dropping `attachments` removes the stored files.
    match outcome {
        Ok(Outcome::Done(ticket)) => {
            attachments.keep();
            Ok(ok(CreatedTicketData {
                ticket: HistoryItem::new(&ticket),
            }))
        }
        Ok(_) => Err(limit_exceeded()),
        Err(err) => Err(err.into()),
    }
}

/// The last value of each query parameter, as Django's `QueryDict.get` reads it.
pub(super) fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .last()
}

/// Endpoint 3.
#[utoipa::path(
    get,
    path = "/support/get/ticket/history",
    tag = "customer",
    operation_id = "ticket_history",
    summary = "The caller's tickets, newest first",
    params(("offset" = Option<i64>, Query, minimum = 0), ("limit" = Option<i64>, Query, minimum = 1, description = "Default 50; above 1000 counts as 1000"), ("subject" = Option<String>, Query, description = "Case-insensitive substring"), ("category" = Option<i64>, Query), ("status" = Option<i64>, Query)),
    responses((status = 200, description = "Done", body = Envelope<HistoryData>))
)]
pub async fn history(
    State(state): State<AppState>,
    Caller(person): Caller,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = query.as_deref();
    let param = |name: &str| query_value(query, name);
    let mut errors = FieldErrors::default();
    let mut filter = HistoryFilter {
        limit: HISTORY_DEFAULT_LIMIT,
        ..HistoryFilter::default()
    };
    match fields::query_integer(param("offset").as_deref()) {
        Ok(Some(offset)) if offset < 0 => {
            errors.add("offset", "Ensure this value is greater than or equal to 0.");
        }
        Ok(offset) => filter.offset = offset.unwrap_or(0),
        Err(()) => errors.add("offset", VALID_INTEGER),
    }
    match fields::query_integer(param("limit").as_deref()) {
        Ok(Some(limit)) if limit < 1 => {
            errors.add("limit", "Ensure this value is greater than or equal to 1.");
        }
        Ok(limit) => {
            filter.limit = limit
                .unwrap_or(HISTORY_DEFAULT_LIMIT)
                .min(HISTORY_MAX_LIMIT)
        }
        Err(()) => errors.add("limit", VALID_INTEGER),
    }
    match fields::query_integer(param("category").as_deref()) {
        Ok(category) => filter.category = category,
        Err(()) => errors.add("category", "Category id is not valid numeric."),
    }
    match fields::query_integer(param("status").as_deref()) {
        Ok(status) => filter.status = status,
        Err(()) => errors.add("status", "Status id is not valid numeric."),
    }
    filter.subject = errors
        .check("subject", fields::query_text(param("subject")))
        .flatten();
    errors.into_result()?;

    let query_hash = &crate::domain::secrets::hash_secret(query.unwrap_or(""))[..12];
    let etag =
        |(version, catalog): &(i64, String)| format!("W/\"h{version}-{catalog}-{query_hash}\"");
    // A polling client gets 304 after one cheap look; the others get the page, whose
    // validator is read by the same statement, from the same snapshot.
    if headers.contains_key(header::IF_NONE_MATCH) {
        let current = etag(&tickets::history_version(&state.db, person.id).await?);
        if not_modified(&headers, &current) {
            return Ok(with_etag(
                StatusCode::NOT_MODIFIED.into_response(),
                &current,
            ));
        }
    }
    let page = tickets::history(&state.db, person.id, &filter).await?;
    Ok(with_etag(
        ok(HistoryData {
            ticket_list: page.tickets.iter().map(HistoryItem::new).collect(),
            count: page.total,
        }),
        &etag(&page.version),
    ))
}

/// Endpoint 5.
#[utoipa::path(
    post,
    path = "/support/update/ticket",
    tag = "customer",
    operation_id = "update_ticket",
    summary = "Change priority and tags",
    request_body = UpdateTicketFields,
    responses((status = 200, description = "Done", body = Envelope<TicketData>))
)]
pub async fn update(
    State(state): State<AppState>,
    Caller(person): Caller,
    body: FormBody,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let ticket = ticket_field(&state, &mut errors, body.get("ticket_id")).await?;
    let priority = errors
        .check(
            "priority",
            fields::optional_choice(body.get("priority"), Priority::CHOICES),
        )
        .map(|c| c.and_then(|c| priority_of(&c)));
    let mut tags = Vec::new();
    if let Some(items) = errors.check("tags", fields::pk_list(body.all("tags"))) {
        // Inactive tags cannot be newly chosen, but may stay on the caller's own ticket.
        let mut allowed = tickets::active_tag_ids(&state.db).await?;
        if let Some(t) = ticket.as_ref().filter(|t| t.author_id == person.id) {
            allowed.extend(tickets::ticket_tag_ids(&state.db, t.id).await?);
        }
        match fields::resolve_ids(items, &allowed) {
            Ok(ids) => tags = ids,
            Err(message) => errors.add("tags", message),
        }
    }
    errors.into_result()?;
    let (Some(ticket), Some(priority)) = (ticket, priority) else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };
    if ticket.author_id != person.id {
        return Err(ApiError::field("ticket", NOT_OWNER));
    }
    tickets::update_ticket(&state.db, &ticket, person.id, priority, &tags).await?;
    ticket_answer(&state, ticket.id).await
}

/// `data.ticket` in the detailed-view shape, read fresh after a write.
async fn ticket_answer(state: &AppState, id: i64) -> Result<Response, ApiError> {
    let ticket = tickets::find_ticket(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("ticket {id} vanished")))?;
    let tags = tickets::ticket_tag_ids(&state.db, id).await?;
    Ok(ok(TicketData {
        ticket: DetailTicket::new(&ticket, &tags),
    }))
}

/// Endpoint 6: `ticket_id` from the query string, else from a body of any encoding.
#[utoipa::path(
    get,
    path = "/support/ticket/detailed-view",
    tag = "customer",
    operation_id = "ticket_detail",
    summary = "A ticket in full",
    params(("ticket_id" = i64, Query, description = "Also accepted in a GET body of any encoding, as the sample code sends it")),
    responses((status = 200, description = "Done", body = Envelope<DetailData>))
)]
pub async fn detail(
    State(state): State<AppState>,
    Caller(person): Caller,
    req: Request,
) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let raw = match query_value(req.uri().query(), "ticket_id") {
        Some(value) => Some(Raw::Text(value)),
        None => read_body_in_time(req, &state)
            .await?
            .get("ticket_id")
            .cloned(),
    };
    let pk = fields::ticket_ref(raw.as_ref()).map_err(|m| ApiError::field("ticket", m))?;
    let Some(id) = pk.id else {
        return Err(ApiError::field("ticket", TICKET_ID_INVALID));
    };
    let etag = |version: i64| format!("W/\"d{id}-{version}\"");
    // A polling client gets 304 after one cheap look; the others get the full read, whose
    // validator is read by the same statement.
    if headers.contains_key(header::IF_NONE_MATCH) {
        let Some((author_id, version)) = tickets::ticket_version(&state.db, id).await? else {
            return Err(ApiError::field("ticket", TICKET_ID_INVALID));
        };
        if author_id != person.id {
            return Err(ApiError::field("ticket", NOT_OWNER));
        }
        if not_modified(&headers, &etag(version)) {
            return Ok(with_etag(
                StatusCode::NOT_MODIFIED.into_response(),
                &etag(version),
            ));
        }
    }
    let Some((detail, version)) = tickets::ticket_detail(&state.db, id).await? else {
        return Err(ApiError::field("ticket", TICKET_ID_INVALID));
    };
    if detail.ticket.author_id != person.id {
        return Err(ApiError::field("ticket", NOT_OWNER));
    }
    Ok(with_etag(
        ok(DetailData {
            ticket: DetailTicket::new(&detail.ticket, &detail.tags),
            author: detail.author_email,
            conversations: detail
                .conversations
                .iter()
                .map(ConversationItem::new)
                .collect(),
            attachments: detail.attachments.iter().map(AttachmentItem::new).collect(),
        }),
        &etag(version),
    ))
}

/// Whether `If-None-Match` names `etag` (or `*`); weak comparison, as RFC 9110 asks for it.
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || bare(tag) == bare(etag))
}

fn with_etag(mut response: Response, etag: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    // Cached copies are the client's own: revalidate every time.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

/// Endpoint 8.
#[utoipa::path(
    post,
    path = "/support/ticket/conversation",
    tag = "customer",
    operation_id = "add_conversation",
    summary = "Add to the conversation",
    request_body(content((ConversationFields = "application/json"), (ConversationMultipart = "multipart/form-data"))),
    responses((status = 200, description = "Done", body = Envelope<ConversationData>))
)]
pub async fn conversation(
    State(state): State<AppState>,
    Caller(person): Caller,
    body: FormBody,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let mut ticket = None;
    if let Some(pk) = errors.check("ticket", fields::pk(body.get("ticket"))) {
        ticket = existing_ticket(&state, &pk).await?;
        if ticket.is_none() {
            errors.add("ticket", fields::no_such_object(&pk.sent));
        }
    }
    let comment = errors.check(
        "comment",
        fields::text(body.get("comment"), COMMENT_MAX_CHARS),
    );
    check_attachments(&mut errors, &body);
    errors.into_result()?;
    let (Some(ticket), Some(comment)) = (ticket, comment) else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };
    if ticket.author_id != person.id {
        return Err(ApiError::field("ticket", NOT_OWNER));
    }
    let attachments = put_uploads(&state, body.files).await?;
    let outcome = tickets::add_customer_conversation(
        &state.db,
        &ticket,
        &person,
        &comment,
        attachments.list(),
        state.open_ticket_limit(),
    )
    .await;
    // Refused or failed: dropping `attachments` removes the stored files.
    match outcome {
        Ok(Outcome::Done(conversation)) => {
            attachments.keep();
            Ok(ok(ConversationData {
                conversation: ConversationItem::new(&conversation),
            }))
        }
        Ok(_) => Err(limit_exceeded()),
        Err(err) => Err(err.into()),
    }
}

/// Endpoint 9.
#[utoipa::path(
    post,
    path = "/support/ticket/status",
    tag = "customer",
    operation_id = "change_status",
    summary = "Close or reopen",
    request_body = StatusFields,
    responses((status = 200, description = "Done", body = Envelope<TicketData>))
)]
pub async fn status(
    State(state): State<AppState>,
    Caller(person): Caller,
    body: FormBody,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let ticket = ticket_field(&state, &mut errors, body.get("ticket")).await?;
    let request = errors
        .check(
            "status",
            fields::status_choice(body.get("status"), CustomerStatusRequest::CHOICES),
        )
        .and_then(|c| CustomerStatusRequest::from_choice(&c));
    errors.into_result()?;
    let (Some(ticket), Some(request)) = (ticket, request) else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };
    if ticket.author_id != person.id {
        return Err(ApiError::field("ticket", fields::CANNOT_OPEN_OR_CLOSE));
    }
    match tickets::change_status_for_author(&state.db, &ticket, request, state.open_ticket_limit())
        .await?
    {
        Outcome::Done(()) => ticket_answer(&state, ticket.id).await,
        Outcome::Refused(refused) => Err(ApiError::field("ticket", refused.message())),
        Outcome::LimitExceeded => Err(limit_exceeded()),
    }
}
