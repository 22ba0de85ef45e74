//! `/agent/…`: agents and administrators work the queue.

use std::collections::HashSet;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::tickets::query_value;
use crate::app::AppState;
use crate::domain::fields::{self, COMMENT_MAX_CHARS, Raw, VALID_INTEGER};
use crate::domain::people::normalize_email;
use crate::domain::ticket::{Priority, Status};
use crate::http::envelope::{ApiError, FieldErrors, ok};
use crate::http::extract::{FormBody, Staff};
use crate::http::path::Id;
use crate::http::schema::*;
use crate::http::schema::{QueueData, StaffConversationData, StaffTicketData};
use crate::http::uploads::{check_attachments, put_uploads};
use crate::http::views::{
    AttachmentItem, EventItem, QueueItem, StaffAttachmentItem, StaffConversationItem, StaffTicket,
};
use crate::store::queue::{self, AssigneeFilter, QueueFilter, SortKey};
use crate::store::staff::{self, StaffChanges};
use crate::store::{events, tickets};

const QUEUE_DEFAULT_LIMIT: i64 = 50;
const QUEUE_MAX_LIMIT: i64 = 1000;
const DATETIME_FORMAT: &str = "Datetime has wrong format. Use one of these formats instead: \
     YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";
const STATUS_CHOICES: &[&str] = &["1", "2", "3"];

/// The ticket a path names, or 404.
async fn ticket_or_404(state: &AppState, id: i64) -> Result<tickets::TicketRow, ApiError> {
    tickets::find_ticket(&state.db, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// Every value of a query parameter, repeated or comma-separated.
fn query_list(query: Option<&str>, name: &str) -> Vec<String> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(key, _)| key == name)
        .flat_map(|(_, value)| {
            value
                .split(',')
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn parse_time(text: &str) -> Result<i64, ()> {
    let t = OffsetDateTime::parse(text.trim(), &Rfc3339).map_err(|_| ())?;
    i64::try_from(t.unix_timestamp_nanos() / 1000).map_err(|_| ())
}

/// A cursor names the sort and the last row's sort value and id: `created:1795807800123456:42`.
fn parse_cursor(text: &str, sort: SortKey) -> Option<(i64, i64)> {
    let mut parts = text.split(':');
    let (name, value, id) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || name != sort_name(sort) {
        return None;
    }
    Some((value.parse().ok()?, id.parse().ok()?))
}

fn sort_name(sort: SortKey) -> &'static str {
    match sort {
        SortKey::Created => "created",
        SortKey::Updated => "updated",
        SortKey::Priority => "priority",
    }
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
    let query = query.as_deref();
    let one = |name: &str| query_value(query, name).filter(|v| !v.trim().is_empty());
    let mut errors = FieldErrors::default();

    let choice_list = |name: &str, errors: &mut FieldErrors| -> Vec<i64> {
        let mut values = Vec::new();
        for value in query_list(query, name) {
            match fields::choice(Some(&Raw::Text(value)), STATUS_CHOICES) {
                Ok(v) => values.push(v.parse().unwrap_or_default()),
                Err(message) => {
                    errors.add(name, message);
                    break;
                }
            }
        }
        values
    };
    let statuses = choice_list("status", &mut errors);
    let priorities = choice_list("priority", &mut errors);
    let integer = |name: &str, errors: &mut FieldErrors| -> Option<i64> {
        fields::query_integer(one(name).as_deref())
            .map_err(|()| errors.add(name, VALID_INTEGER))
            .ok()
            .flatten()
    };
    let category = integer("category", &mut errors);
    let tag = integer("tag", &mut errors);
    let offset = integer("offset", &mut errors).unwrap_or(0);
    if offset < 0 {
        errors.add("offset", "Ensure this value is greater than or equal to 0.");
    }
    let limit = integer("limit", &mut errors).unwrap_or(QUEUE_DEFAULT_LIMIT);
    if limit < 1 {
        errors.add("limit", "Ensure this value is greater than or equal to 1.");
    }
    let assignee = match one("assignee") {
        None => None,
        Some(v) if v.trim().eq_ignore_ascii_case("none") => Some(AssigneeFilter::Unassigned),
        Some(v) => match fields::query_integer(Some(&v)) {
            Ok(Some(id)) => Some(AssigneeFilter::Person(id)),
            _ => {
                errors.add("assignee", "A valid integer or \"none\" is required.");
                None
            }
        },
    };
    let mut times = [None; 4];
    let time_params = [
        "created_after",
        "created_before",
        "updated_after",
        "updated_before",
    ];
    for (slot, name) in times.iter_mut().zip(time_params) {
        if let Some(text) = one(name) {
            match parse_time(&text) {
                Ok(t) => *slot = Some(t),
                Err(()) => errors.add(name, DATETIME_FORMAT),
            }
        }
    }
    let sort_text = one("sort").unwrap_or_else(|| "-created".to_owned());
    let (descending, key) = match sort_text.trim().strip_prefix('-') {
        Some(key) => (true, key),
        None => (false, sort_text.trim()),
    };
    let sort = match key {
        "created" => Some(SortKey::Created),
        "updated" => Some(SortKey::Updated),
        "priority" => Some(SortKey::Priority),
        _ => {
            errors.add("sort", fields::invalid_choice(sort_text.trim()));
            None
        }
    };
    let after = match (one("cursor"), sort) {
        (Some(cursor), Some(sort)) => match parse_cursor(cursor.trim(), sort) {
            Some(after) => Some(after),
            None => {
                errors.add("cursor", "Invalid cursor.");
                None
            }
        },
        _ => None,
    };
    let author_email = errors
        .check("author", fields::query_text(one("author")))
        .flatten()
        .map(|e| normalize_email(&e));
    let text = errors.check("q", fields::query_text(one("q"))).flatten();
    errors.into_result()?;
    let Some(sort) = sort else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "validated sort missing"
        )));
    };

    let filter = QueueFilter {
        statuses,
        priorities,
        category,
        tag,
        assignee,
        author_email,
        created_after: times[0],
        created_before: times[1],
        updated_after: times[2],
        updated_before: times[3],
        text,
        sort,
        descending,
        after,
        offset,
        limit: limit.min(QUEUE_MAX_LIMIT),
    };
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
    let mut errors = FieldErrors::default();
    let comment = errors.check(
        "comment",
        fields::text(body.get("comment"), COMMENT_MAX_CHARS),
    );
    check_attachments(&mut errors, &body);
    errors.into_result()?;
    let Some(comment) = comment else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "validated comment missing"
        )));
    };
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
    let mut errors = FieldErrors::default();
    let mut changes = StaffChanges {
        status: errors
            .check(
                "status",
                fields::optional_choice(body.get("status"), STATUS_CHOICES),
            )
            .flatten()
            .and_then(|c| c.parse().ok().and_then(Status::from_code)),
        priority: errors
            .check(
                "priority",
                fields::optional_choice(body.get("priority"), Priority::CHOICES),
            )
            .flatten()
            .and_then(|c| c.parse().ok().and_then(Priority::from_code)),
        ..StaffChanges::default()
    };
    if body.get("category").is_some()
        && let Some(pk) = errors.check("category", fields::pk(body.get("category")))
    {
        match pk.id {
            Some(id)
                if id == ticket.category_id
                    || tickets::category_is_active(&state.db, id).await? =>
            {
                changes.category = Some(id);
            }
            _ => errors.add("category", fields::no_such_object(&pk.sent)),
        }
    }
    if !body.all("tags").is_empty() {
        let mut allowed = tickets::active_tag_ids(&state.db).await?;
        allowed.extend(tickets::ticket_tag_ids(&state.db, ticket.id).await?);
        match fields::pk_list(body.all("tags")) {
            // Staff may clear a ticket's tags.
            Err(message) if message == fields::EMPTY_LIST => changes.tags = Some(Vec::new()),
            Err(message) => errors.add("tags", message),
            Ok(items) => match fields::resolve_ids(items, &allowed) {
                Ok(ids) => changes.tags = Some(ids),
                Err(message) => errors.add("tags", message),
            },
        }
    }
    match body.get("assignee") {
        None => {}
        Some(Raw::Json(serde_json::Value::Null)) => changes.assignee = Some(None),
        Some(Raw::Text(s)) | Some(Raw::Json(serde_json::Value::String(s)))
            if s.trim().is_empty() || s.trim().eq_ignore_ascii_case("none") =>
        {
            changes.assignee = Some(None);
        }
        Some(raw) => {
            if let Some(pk) = errors.check("assignee", fields::pk(Some(raw))) {
                match pk.id {
                    Some(id) if staff::is_assignable(&state.db, id).await? => {
                        changes.assignee = Some(Some(id));
                    }
                    _ => errors.add("assignee", fields::no_such_object(&pk.sent)),
                }
            }
        }
    }
    errors.into_result()?;
    staff::update(&state.db, &ticket, agent.id, &changes).await?;
    staff_view(&state, ticket.id).await
}
