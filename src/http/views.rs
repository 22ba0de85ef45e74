//! The JSON shapes of the contract (section 7), built from store rows.

use serde_json::{Value, json};

use crate::domain::time::format_micros;
use crate::store::catalog::CatalogEntry;
use crate::store::staff::StaffConversation;
use crate::store::tickets::{AttachmentRow, ConversationRow, TicketRow};

/// A history item (also the answer of create).
pub fn history_item(t: &TicketRow) -> Value {
    json!({
        "id": t.id,
        "subject": t.subject,
        "priority": t.priority.to_string(),
        "category": t.category_id,
        "category_title": t.category_title,
        "comment": t.comment,
        "status": t.status.to_string(),
        "created_at": format_micros(t.created_at),
        "updated_at": format_micros(t.updated_at),
    })
}

/// The `ticket` of the detailed view (also the answer of update and status).
pub fn detail_ticket(t: &TicketRow, tags: &[i64]) -> Value {
    json!({
        "id": t.id,
        "subject": t.subject,
        "priority": t.priority.to_string(),
        "category": t.category_id,
        "comment": t.comment,
        "status": t.status.to_string(),
        "tags": tags,
        "created_at": format_micros(t.created_at),
        "updated_at": format_micros(t.updated_at),
    })
}

pub fn conversation(c: &ConversationRow) -> Value {
    json!({
        "id": c.id,
        "ticket": c.ticket_id,
        "comment": c.comment,
        "author": c.author_email,
        "created_at": format_micros(c.created_at),
    })
}

pub fn attachment(a: &AttachmentRow) -> Value {
    json!({
        "id": a.id,
        "conversation_id": a.conversation_id,
        "filename": a.filename,
        "size": a.size,
        "content_type": a.content_type,
    })
}

pub fn category(c: &CatalogEntry) -> Value {
    json!({"id": c.id, "category": c.name, "description": c.detail})
}

pub fn tag(t: &CatalogEntry) -> Value {
    json!({"id": t.id, "tag": t.name, "keyword": t.detail})
}

/// A queue row: the history item plus its author and assignee.
pub fn queue_item(t: &TicketRow, author_email: &str) -> Value {
    let mut item = history_item(t);
    item["author"] = json!(author_email);
    item["assignee"] = json!(t.assignee_id);
    item
}

/// The ticket as staff see it: the detailed-view shape plus the assignee's id.
pub fn staff_ticket(t: &TicketRow, tags: &[i64]) -> Value {
    let mut ticket = detail_ticket(t, tags);
    ticket["assignee"] = json!(t.assignee_id);
    ticket
}

pub fn staff_conversation(ticket_id: i64, c: &StaffConversation) -> Value {
    json!({
        "id": c.id,
        "ticket": ticket_id,
        "comment": c.comment,
        "author": c.author_email,
        "internal": c.internal,
        "created_at": format_micros(c.created_at),
    })
}

pub fn staff_attachment(a: &AttachmentRow, internal: bool) -> Value {
    let mut item = attachment(a);
    item["internal"] = json!(internal);
    item
}
