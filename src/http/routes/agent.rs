//! `/agent/…`: agents and administrators work the queue.

use std::collections::HashSet;

use axum::extract::{RawQuery, State};
use axum::response::Response;

use crate::app::AppState;
use crate::http::envelope::{ApiError, ok};
use crate::http::extract::{FormBody, Staff};
use crate::http::inputs::staff::{AgentMessage, queue_filter, sort_name, staff_changes};
use crate::http::path::Id;
use crate::http::schema::*;
use crate::http::schema::{QueueData, StaffConversationData, StaffTicketData};
use crate::http::uploads::put_uploads;
use crate::http::views::{
    AttachmentItem, EventItem, QueueItem, StaffAttachmentItem, StaffConversationItem, StaffTicket,
};
use crate::store::queue;
use crate::store::staff;
use crate::store::{events, tickets};

/// The ticket a path names, or 404.
async fn ticket_or_404(state: &AppState, id: i64) -> Result<tickets::TicketRow, ApiError> {
    tickets::find_ticket(&state.db, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// `GET agent/tickets/`: the queue.
#[utoipa::path(
    get,
    path = "/agent/tickets",
    tag = "agent",
    operation_id = "queue",
    summary = "The queue",
    params(("status" = Option<String>, Query, description = "1, 2, 3 or a comma list"), ("priority" = Option<String>, Query, description = "1, 2, 3 or a comma list"), ("category" = Option<i64>, Query), ("tag" = Option<i64>, Query), ("assignee" = Option<String>, Query, description = "A person id or none"), ("author" = Option<String>, Query, description = "Author email"), ("created_after" = Option<String>, Query, format = DateTime), ("created_before" = Option<String>, Query, format = DateTime), ("updated_after" = Option<String>, Query, format = DateTime), ("updated_before" = Option<String>, Query, format = DateTime), ("q" = Option<String>, Query, description = "Text in the subject"), ("sort" = Option<String>, Query, description = "created, updated, priority; - for descending"), ("limit" = Option<i64>, Query, minimum = 1), ("offset" = Option<i64>, Query, minimum = 0), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, description = "Done", body = Envelope<QueueData>))
)]
pub async fn queue(
    State(state): State<AppState>,
    Staff(_agent): Staff,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let filter = queue_filter(query.as_deref())?;
    let sort = filter.sort;
    let rows = queue::list(&state.db, &filter).await?;
    let next_cursor = match rows.last() {
        Some(last) if i64::try_from(rows.len()).unwrap_or(i64::MAX) == filter.limit => {
            Some(format!(
                "{}:{}:{}",
                sort_name(sort),
                sort.value_of(&last.ticket),
                last.ticket.id
            ))
        }
        _ => None,
    };
    Ok(ok(QueueData {
        tickets: rows
            .iter()
            .map(|row| QueueItem::new(&row.ticket, &row.author_email))
            .collect(),
        next_cursor,
    }))
}

/// `GET agent/tickets/{id}/`: everything about a ticket, internal notes and events included.
#[utoipa::path(
    get,
    path = "/agent/tickets/{id}",
    tag = "agent",
    operation_id = "staff_ticket",
    summary = "A ticket in full, notes and events included",
    params(("id" = i64, Path, description = "The ticket id")),
    responses((status = 200, description = "Done", body = Envelope<StaffTicketData>))
)]
pub async fn ticket(
    State(state): State<AppState>,
    Staff(_agent): Staff,
    Id(id): Id,
) -> Result<Response, ApiError> {
    let ticket = ticket_or_404(&state, id).await?;
    staff_view(&state, ticket.id).await
}

async fn staff_view(state: &AppState, id: i64) -> Result<Response, ApiError> {
    let (detail, _) = tickets::ticket_detail(&state.db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let conversations = staff::conversations(&state.db, id).await?;
    let attachments = staff::attachments(&state.db, id).await?;
    let events = events::for_ticket(&state.db, id).await?;
    let assignee = match detail.ticket.assignee_id {
        Some(assignee) => staff::email_of(&state.db, assignee).await?,
        None => None,
    };
    let internal_ids: HashSet<i64> = conversations
        .iter()
        .filter(|c| c.internal)
        .map(|c| c.id)
        .collect();
    Ok(ok(StaffTicketData {
        ticket: StaffTicket::new(&detail.ticket, &detail.tags),
        author: detail.author_email,
        assignee,
        conversations: conversations
            .iter()
            .map(|c| StaffConversationItem::new(id, c))
            .collect(),
        attachments: attachments
            .iter()
            .map(|a| StaffAttachmentItem {
                attachment: AttachmentItem::new(a),
                internal: a.conversation_id.is_some_and(|c| internal_ids.contains(&c)),
            })
            .collect(),
        events: events.into_iter().map(EventItem::from).collect(),
    }))
}

/// `POST agent/tickets/{id}/reply/`.
#[utoipa::path(
    post,
    path = "/agent/tickets/{id}/reply",
    tag = "agent",
    operation_id = "reply",
    summary = "Reply to the customer",
    params(("id" = i64, Path, description = "The ticket id")),
    request_body(content((MessageFields = "application/json"), (MessageMultipart = "multipart/form-data"))),
    responses((status = 200, description = "Done", body = Envelope<StaffConversationData>))
)]
pub async fn reply(
    state: State<AppState>,
    agent: Staff,
    id: Id,
    body: FormBody,
) -> Result<Response, ApiError> {
    message(state, agent, id, body, false).await
}

/// `POST agent/tickets/{id}/note/`: never visible to the customer.
#[utoipa::path(
    post,
    path = "/agent/tickets/{id}/note",
    tag = "agent",
    operation_id = "note",
    summary = "Add an internal note",
    params(("id" = i64, Path, description = "The ticket id")),
    request_body(content((MessageFields = "application/json"), (MessageMultipart = "multipart/form-data"))),
    responses((status = 200, description = "Done", body = Envelope<StaffConversationData>))
)]
pub async fn note(
    state: State<AppState>,
    agent: Staff,
    id: Id,
    body: FormBody,
) -> Result<Response, ApiError> {
    message(state, agent, id, body, true).await
}

async fn message(
    State(state): State<AppState>,
    Staff(agent): Staff,
    Id(id): Id,
    body: FormBody,
    internal: bool,
) -> Result<Response, ApiError> {
    let ticket = ticket_or_404(&state, id).await?;
    let AgentMessage { comment } = AgentMessage::parse(&body)?;
    let attachments = put_uploads(&state, body.files).await?;
    let list = attachments.list();
    // On failure, dropping `attachments` removes the stored files.
    let message = staff::add_message(&state.db, &ticket, &agent, &comment, list, internal).await?;
    attachments.keep();
    Ok(ok(StaffConversationData {
        conversation: StaffConversationItem::new(ticket.id, &message),
    }))
}

/// `POST agent/tickets/{id}/update/`: status, priority, category, tags, assignee; each optional.
#[utoipa::path(
    post,
    path = "/agent/tickets/{id}/update",
    tag = "agent",
    operation_id = "staff_update",
    summary = "Change status, priority, category, tags, assignee",
    params(("id" = i64, Path, description = "The ticket id")),
    request_body = StaffUpdateFields,
    responses((status = 200, description = "Done", body = Envelope<StaffTicketData>))
)]
pub async fn update(
    State(state): State<AppState>,
    Staff(agent): Staff,
    Id(id): Id,
    body: FormBody,
) -> Result<Response, ApiError> {
    let ticket = ticket_or_404(&state, id).await?;
    let changes = staff_changes(&body, &state, &ticket).await?;
    staff::update(&state.db, &ticket, agent.id, &changes).await?;
    staff_view(&state, ticket.id).await
}
