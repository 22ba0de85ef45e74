//! The JSON shapes of the API (contract section 7 and the staff side), as types: they serialize
//! the answers and describe them in the OpenAPI document, so the two cannot drift apart.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::fields::Choice;
use crate::domain::time::format_micros;
use crate::store::catalog::CatalogEntry;
use crate::store::events::EventRow;
use crate::store::staff::StaffConversation;
use crate::store::tickets::{AttachmentRow, ConversationRow, TicketRow};

/// A ticket in the history (also the answer of create).
#[derive(Serialize, ToSchema)]
pub struct HistoryItem {
    pub id: i64,
    pub subject: String,
    /// `1` Low, `2` Medium, `3` High.
    #[schema(example = "2")]
    pub priority: String,
    pub category: i64,
    pub category_title: String,
    pub comment: String,
    /// `1` Open, `2` Processing, `3` Closed.
    #[schema(example = "1")]
    pub status: String,
    #[schema(example = "2026-11-27T19:30:00.123456Z")]
    pub created_at: String,
    #[schema(example = "2026-11-27T19:30:00.123456Z")]
    pub updated_at: String,
}

impl HistoryItem {
    pub fn new(t: &TicketRow) -> Self {
        Self {
            id: t.id,
            subject: t.subject.clone(),
            priority: t.priority.code_text().to_owned(),
            category: t.category_id,
            category_title: t.category_title.clone(),
            comment: t.comment.clone(),
            status: t.status.code_text().to_owned(),
            created_at: format_micros(t.created_at),
            updated_at: format_micros(t.updated_at),
        }
    }
}

/// The `ticket` of the detailed view (also the answer of update and status).
#[derive(Serialize, ToSchema)]
pub struct DetailTicket {
    pub id: i64,
    pub subject: String,
    #[schema(example = "2")]
    pub priority: String,
    pub category: i64,
    pub comment: String,
    #[schema(example = "1")]
    pub status: String,
    /// Tag ids, ascending.
    pub tags: Vec<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl DetailTicket {
    pub fn new(t: &TicketRow, tags: &[i64]) -> Self {
        Self {
            id: t.id,
            subject: t.subject.clone(),
            priority: t.priority.code_text().to_owned(),
            category: t.category_id,
            comment: t.comment.clone(),
            status: t.status.code_text().to_owned(),
            tags: tags.to_vec(),
            created_at: format_micros(t.created_at),
            updated_at: format_micros(t.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConversationItem {
    pub id: i64,
    pub ticket: i64,
    pub comment: String,
    /// The author's email.
    pub author: String,
    pub created_at: String,
}

impl ConversationItem {
    pub fn new(c: &ConversationRow) -> Self {
        Self {
            id: c.id,
            ticket: c.ticket_id,
            comment: c.comment.clone(),
            author: c.author_email.clone(),
            created_at: format_micros(c.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttachmentItem {
    pub id: i64,
    /// `null` for an attachment sent with the ticket itself.
    pub conversation_id: Option<i64>,
    pub filename: String,
    pub size: i64,
    pub content_type: String,
}

impl AttachmentItem {
    pub fn new(a: &AttachmentRow) -> Self {
        Self {
            id: a.id,
            conversation_id: a.conversation_id,
            filename: a.filename.clone(),
            size: a.size,
            content_type: a.content_type.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CategoryItem {
    pub id: i64,
    pub category: String,
    pub description: String,
}

impl CategoryItem {
    pub fn new(c: &CatalogEntry) -> Self {
        Self {
            id: c.id,
            category: c.name.clone(),
            description: c.detail.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TagItem {
    pub id: i64,
    pub tag: String,
    pub keyword: String,
}

impl TagItem {
    pub fn new(t: &CatalogEntry) -> Self {
        Self {
            id: t.id,
            tag: t.name.clone(),
            keyword: t.detail.clone(),
        }
    }
}

/// A queue row: the history item plus its author and assignee.
#[derive(Serialize, ToSchema)]
pub struct QueueItem {
    #[serde(flatten)]
    pub ticket: HistoryItem,
    /// The author's email.
    pub author: String,
    /// The assigned agent's id.
    pub assignee: Option<i64>,
}

impl QueueItem {
    pub fn new(t: &TicketRow, author_email: &str) -> Self {
        Self {
            ticket: HistoryItem::new(t),
            author: author_email.to_owned(),
            assignee: t.assignee_id,
        }
    }
}

/// The ticket as staff see it: the detailed-view shape plus the assignee's id.
#[derive(Serialize, ToSchema)]
pub struct StaffTicket {
    #[serde(flatten)]
    pub ticket: DetailTicket,
    pub assignee: Option<i64>,
}

impl StaffTicket {
    pub fn new(t: &TicketRow, tags: &[i64]) -> Self {
        Self {
            ticket: DetailTicket::new(t, tags),
            assignee: t.assignee_id,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StaffConversationItem {
    pub id: i64,
    pub ticket: i64,
    pub comment: String,
    pub author: String,
    /// An internal note, never shown to the customer.
    pub internal: bool,
    pub created_at: String,
}

impl StaffConversationItem {
    pub fn new(ticket_id: i64, c: &StaffConversation) -> Self {
        Self {
            id: c.id,
            ticket: ticket_id,
            comment: c.comment.clone(),
            author: c.author_email.clone(),
            internal: c.internal,
            created_at: format_micros(c.created_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StaffAttachmentItem {
    #[serde(flatten)]
    pub attachment: AttachmentItem,
    /// Attached to an internal note.
    pub internal: bool,
}

/// An entry of the audit trail.
#[derive(Serialize, ToSchema)]
pub struct EventItem {
    pub id: i64,
    /// Who made the change (email).
    pub actor: String,
    /// `created`, `status`, `priority`, `category`, `tags`, `assignee`, `comment`, `reply`, `note`,
    /// `mail_failed` (`to` then reads "Email to <address> could not be delivered: <reason>").
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub created_at: String,
}

impl From<EventRow> for EventItem {
    fn from(e: EventRow) -> Self {
        Self {
            id: e.id,
            actor: e.actor,
            kind: e.kind,
            from: e.from,
            to: e.to,
            created_at: format_micros(e.created_at),
        }
    }
}

/// A search hit as staff see it: the queue's item, where the words were found and an excerpt.
#[derive(Serialize, ToSchema)]
pub struct SearchItem {
    #[serde(flatten)]
    pub ticket: QueueItem,
    /// Where the words were found: `subject`, `message`, `note`, `file`, `email`.
    pub matched_in: Vec<String>,
    /// An excerpt around the first match; `null` for a search without words.
    pub snippet: Option<String>,
}

impl SearchItem {
    pub fn new(hit: &crate::store::search::Hit) -> Self {
        Self {
            ticket: QueueItem::new(&hit.ticket, &hit.author_email),
            matched_in: hit
                .matched_in
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            snippet: hit.snippet.clone(),
        }
    }
}

/// A search hit as its customer sees it: the history's item, where the words were found
/// (never `note`) and an excerpt.
#[derive(Serialize, ToSchema)]
pub struct CustomerSearchItem {
    #[serde(flatten)]
    pub ticket: HistoryItem,
    /// Where the words were found: `subject`, `message`, `file`, `email`.
    pub matched_in: Vec<String>,
    pub snippet: Option<String>,
}

impl CustomerSearchItem {
    pub fn new(hit: &crate::store::search::Hit) -> Self {
        Self {
            ticket: HistoryItem::new(&hit.ticket),
            matched_in: hit
                .matched_in
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            snippet: hit.snippet.clone(),
        }
    }
}
