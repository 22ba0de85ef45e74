//! Endpoints 2, 3, 5, 6, 8 and 9: a customer's own tickets.
//!
//! Each handler follows the contract's check order: credentials (extractors), the body
//! (extractor), every field error together, then ownership and state, then the open-ticket
//! limit.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::Response;

use crate::app::AppState;
use crate::domain::fields::{CANNOT_OPEN_OR_CLOSE, NOT_OWNER, TICKET_ID_INVALID};
use crate::http::envelope::{ApiError, ok};
use crate::http::extract::{Caller, FormBody};
use crate::http::inputs::tickets::{
    AddConversation, ChangeStatus, CreateTicket, TicketDetail, UpdateTicket, history_filter,
};
use crate::http::schema::*;
use crate::http::schema::{
    ConversationData, CreatedTicketData, DetailData, HistoryData, TicketData,
};
use crate::http::uploads::put_uploads;
use crate::http::views::{AttachmentItem, ConversationItem, DetailTicket, HistoryItem};
use crate::store::tickets::{self, NewTicket, Outcome};

fn limit_exceeded() -> ApiError {
    ApiError::detail(
        StatusCode::UNAUTHORIZED,
        "Currently Open Ticket Limit Exceed.",
    )
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
    let input = CreateTicket::parse(&body, &state).await?;
    let attachments = put_uploads(&state, body.files).await?;
    let new = NewTicket {
        author_id: person.id,
        subject: &input.subject,
        priority: input.priority,
        category_id: input.category_id,
        comment: &input.comment,
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
    let filter = history_filter(query)?;

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
    let UpdateTicket {
        ticket,
        priority,
        tags,
    } = UpdateTicket::parse(&body, &state, &person).await?;
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
    headers: HeaderMap,
    TicketDetail { ticket_id: id }: TicketDetail,
) -> Result<Response, ApiError> {
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
    let AddConversation { ticket, comment } = AddConversation::parse(&body, &state).await?;
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
    let ChangeStatus { ticket, request } = ChangeStatus::parse(&body, &state).await?;
    if ticket.author_id != person.id {
        return Err(ApiError::field("ticket", CANNOT_OPEN_OR_CLOSE));
    }
    match tickets::change_status_for_author(&state.db, &ticket, request, state.open_ticket_limit())
        .await?
    {
        Outcome::Done(()) => ticket_answer(&state, ticket.id).await,
        Outcome::Refused(refused) => Err(ApiError::field("ticket", refused.message())),
        Outcome::LimitExceeded => Err(limit_exceeded()),
    }
}
