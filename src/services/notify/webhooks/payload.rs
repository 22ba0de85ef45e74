//! A webhook's JSON body: `{"type", "timestamp", "data": {"event_id", "ticket", "actor", …}}`,
//! with the ticket exactly as the agent view shows it (the same type serializes both), and
//! the event's own fields: `message` for a comment, reply or note, `change` for the rest.
//! Webhooks are a staff channel: a note's text is in its payload.

use serde::Serialize;
use serde_json::{Value, json};

use crate::domain::events::TicketEvent;
use crate::domain::time::format_micros;
use crate::http::views::StaffTicket;
use crate::store::webhooks::EventContext;

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: Data,
}

#[derive(Serialize)]
struct Data {
    /// The audit trail's event id: the same for every endpoint the event reaches.
    event_id: i64,
    ticket: StaffTicket,
    actor: Actor,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<Change>,
}

#[derive(Serialize)]
struct Actor {
    id: i64,
    email: String,
    role: String,
}

#[derive(Serialize)]
struct Message {
    id: i64,
    comment: String,
    author: String,
    internal: bool,
    created_at: String,
}

/// What changed: `status`, `priority`, `category`, `assignee` (codes and ids as the API shows
/// them, as text; `null` for none) or `tags` (lists of tag ids).
#[derive(Serialize)]
struct Change {
    field: String,
    from: Value,
    to: Value,
}

fn change_value(field: &str, value: Option<&str>) -> Value {
    match (field, value) {
        (_, None) => Value::Null,
        ("tags", Some(list)) => json!(
            list.split(',')
                .filter_map(|id| id.trim().parse::<i64>().ok())
                .collect::<Vec<_>>()
        ),
        (_, Some(text)) => json!(text),
    }
}

/// The body for `event` in `context`.
pub fn body(event: TicketEvent, context: &EventContext) -> serde_json::Result<String> {
    let message = context.message.as_ref().map(|m| Message {
        id: m.id,
        comment: m.comment.clone(),
        author: m.author.clone(),
        internal: m.internal,
        created_at: format_micros(m.created_at),
    });
    let change = match context.kind.as_str() {
        "created" | "comment" | "reply" | "note" => None,
        field => Some(Change {
            field: field.to_owned(),
            from: change_value(field, context.from.as_deref()),
            to: change_value(field, context.to.as_deref()),
        }),
    };
    serde_json::to_string(&Body {
        kind: event.name(),
        timestamp: format_micros(context.at),
        data: Data {
            event_id: context.event_id,
            ticket: StaffTicket::new(&context.ticket, &context.tags),
            actor: Actor {
                id: context.actor.id,
                email: context.actor.email.clone(),
                role: context.actor.role.clone(),
            },
            message,
            change,
        },
    })
}
