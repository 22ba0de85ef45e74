//! The agents' operations' inputs: the queue's query string, a reply or note, a ticket update.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{attachments, existing};
use crate::app::AppState;
use crate::domain::fields::{
    self, AllFields, COMMENT_MAX_CHARS, EMPTY_LIST, Field, FieldErrors, Fields, Raw, VALID_INTEGER,
    field,
};
use crate::domain::people::normalize_email;
use crate::domain::ticket::{Priority, Status};
use crate::http::envelope::ApiError;
use crate::http::extract::FormBody;
use crate::store::queue::{AssigneeFilter, QueueFilter, SortKey};
use crate::store::staff::{self, StaffChanges};
use crate::store::tickets::{self, TicketRow};

use super::tickets::category_field;

const QUEUE_DEFAULT_LIMIT: i64 = 50;
const QUEUE_MAX_LIMIT: i64 = 1000;
const DATETIME_FORMAT: &str = "Datetime has wrong format. Use one of these formats instead: \
     YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

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

pub fn sort_name(sort: SortKey) -> &'static str {
    match sort {
        SortKey::Created => "created",
        SortKey::Updated => "updated",
        SortKey::Priority => "priority",
    }
}

/// `GET agent/tickets/`'s query string.
pub fn queue_filter(query: Option<&str>) -> Result<QueueFilter, FieldErrors> {
    let q = Fields::from_query(query);
    let integer = |name: &str| {
        field(
            name,
            fields::query_integer(q.text(name).as_deref()).map_err(|()| VALID_INTEGER),
        )
    };
    let time = |name: &str| {
        field(
            name,
            q.text(name)
                .map(|text| parse_time(&text).map_err(|()| DATETIME_FORMAT))
                .transpose(),
        )
    };
    let assignee = field(
        "assignee",
        match q.text("assignee") {
            None => Ok(None),
            Some(v) if v.trim().eq_ignore_ascii_case("none") => {
                Ok(Some(AssigneeFilter::Unassigned))
            }
            Some(v) => match fields::query_integer(Some(&v)) {
                Ok(Some(id)) => Ok(Some(AssigneeFilter::Person(id))),
                _ => Err("A valid integer or \"none\" is required."),
            },
        },
    );
    let sort_text = q.text("sort").unwrap_or_else(|| "-created".to_owned());
    let sort_text = sort_text.trim();
    let (descending, key) = match sort_text.strip_prefix('-') {
        Some(key) => (true, key),
        None => (false, sort_text),
    };
    let sort = match key {
        "created" => Ok(SortKey::Created),
        "updated" => Ok(SortKey::Updated),
        "priority" => Ok(SortKey::Priority),
        _ => Err(FieldErrors::one("sort", fields::invalid_choice(sort_text))),
    };
    let after = match (q.text("cursor"), &sort) {
        (Some(cursor), Ok(sort)) => field(
            "cursor",
            parse_cursor(cursor.trim(), *sort)
                .map(Some)
                .ok_or("Invalid cursor."),
        ),
        _ => Ok(None),
    };
    let (offset, limit) = fields::page(&q, QUEUE_DEFAULT_LIMIT, QUEUE_MAX_LIMIT);
    let (
        (statuses, priorities, category, tag, assignee, author_email, text),
        (created_after, created_before, updated_after, updated_before),
        (sort, after, offset, limit),
    ) = (
        (
            field("status", fields::choice_list::<Status>(q.all("status"))),
            field(
                "priority",
                fields::choice_list::<Priority>(q.all("priority")),
            ),
            integer("category"),
            integer("tag"),
            assignee,
            field("author", fields::query_text(q.text("author"))),
            field("q", fields::query_text(q.text("q"))),
        )
            .all(),
        (
            time("created_after"),
            time("created_before"),
            time("updated_after"),
            time("updated_before"),
        )
            .all(),
        (sort, after, offset, limit).all(),
    )
        .all()?;
    Ok(QueueFilter {
        statuses: statuses.into_iter().map(Status::code).collect(),
        priorities: priorities.into_iter().map(Priority::code).collect(),
        category,
        tag,
        assignee,
        author_email: author_email.map(|e| normalize_email(&e)),
        created_after,
        created_before,
        updated_after,
        updated_before,
        text,
        sort,
        descending,
        after,
        offset,
        limit,
    })
}

/// `POST agent/tickets/{id}/reply/` and `…/note/`.
pub struct AgentMessage {
    pub comment: String,
}

impl AgentMessage {
    pub fn parse(body: &FormBody) -> Result<Self, FieldErrors> {
        let (comment, ()) = (
            field(
                "comment",
                fields::text(body.fields.get("comment"), COMMENT_MAX_CHARS),
            ),
            attachments(body),
        )
            .all()?;
        Ok(Self { comment })
    }
}

/// `POST agent/tickets/{id}/update/`: each field optional.
pub async fn staff_changes(
    body: &FormBody,
    state: &AppState,
    ticket: &TicketRow,
) -> Result<StaffChanges, ApiError> {
    let f = &body.fields;
    let category: Field<Option<i64>> = match f.get("category") {
        None => Ok(None),
        raw => category_field(state, raw, Some(ticket.category_id))
            .await?
            .map(Some),
    };
    let tags: Field<Option<Vec<i64>>> = if f.all("tags").is_empty() {
        Ok(None)
    } else {
        match fields::pk_list(f.all("tags")) {
            // Staff may clear a ticket's tags.
            Err(message) if message == EMPTY_LIST => Ok(Some(Vec::new())),
            Err(message) => field("tags", Err(message)),
            Ok(items) => {
                let mut allowed = tickets::active_tag_ids(&state.db).await?;
                allowed.extend(tickets::ticket_tag_ids(&state.db, ticket.id).await?);
                field("tags", fields::resolve_ids(items, &allowed)).map(Some)
            }
        }
    };
    let assignee: Field<Option<Option<i64>>> = match f.get("assignee") {
        None => Ok(None),
        Some(Raw::Json(serde_json::Value::Null)) => Ok(Some(None)),
        Some(Raw::Text(s)) | Some(Raw::Json(serde_json::Value::String(s)))
            if s.trim().is_empty() || s.trim().eq_ignore_ascii_case("none") =>
        {
            Ok(Some(None))
        }
        raw => existing("assignee", raw, |id| async move {
            Ok(staff::is_assignable(&state.db, id).await?.then_some(id))
        })
        .await?
        .map(|id| Some(Some(id))),
    };
    let (status, priority, category, tags, assignee) = (
        field("status", fields::optional_choice(f.get("status"))),
        field("priority", fields::optional_choice(f.get("priority"))),
        category,
        tags,
        assignee,
    )
        .all()?;
    Ok(StaffChanges {
        status,
        priority,
        category,
        tags,
        assignee,
    })
}
