//! The audit trail: who changed what on a ticket, when, from what to what. Every write to a
//! ticket records its events in the same transaction as the change.

use sqlx::Row;

use super::{Db, StoreResult, Tx, outbox};
use crate::domain::events::TicketEvent;

/// What happened to a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Status,
    Priority,
    Category,
    Tags,
    Assignee,
    /// A conversation message by the ticket's author.
    Comment,
    /// A conversation message by staff.
    Reply,
    /// An internal note by staff.
    Note,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Status => "status",
            Self::Priority => "priority",
            Self::Category => "category",
            Self::Tags => "tags",
            Self::Assignee => "assignee",
            Self::Comment => "comment",
            Self::Reply => "reply",
            Self::Note => "note",
        }
    }

    /// The notifying event this kind is, as the outbox and webhooks name it.
    pub fn notification(self) -> TicketEvent {
        match self {
            Self::Created => TicketEvent::Created,
            Self::Status => TicketEvent::StatusChanged,
            Self::Priority | Self::Category | Self::Tags => TicketEvent::Updated,
            Self::Assignee => TicketEvent::Assigned,
            Self::Comment => TicketEvent::CustomerCommented,
            Self::Reply => TicketEvent::AgentReplied,
            Self::Note => TicketEvent::NoteAdded,
        }
    }
}

/// Records one event inside the transaction that makes the change, with its outbox row: the
/// notification commits or rolls back with the change (every ticket write goes through here).
pub async fn record(
    tx: &mut Tx,
    ticket_id: i64,
    actor_id: i64,
    kind: EventKind,
    from: Option<String>,
    to: Option<String>,
    at: i64,
) -> StoreResult<()> {
    let event_id: i64 = sqlx::query(
        "INSERT INTO ticket_events (ticket_id, actor_id, kind, old_value, new_value, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(ticket_id)
    .bind(actor_id)
    .bind(kind.as_str())
    .bind(from)
    .bind(to)
    .bind(at)
    .fetch_one(&mut **tx)
    .await?
    .try_get("id")?;
    outbox::append(tx, event_id, ticket_id, kind.notification(), at).await
}

/// The trail's kind for a mail that could not be delivered. Such an entry notifies nobody (it
/// has no outbox row) and, like the whole trail, only staff see it.
pub const MAIL_FAILED: &str = "mail_failed";

/// Leaves on the trail of the ticket of event `source_event_id`, in the caller's transaction,
/// "Email to <address> could not be delivered: <reason>", made by the person whose change the
/// mail told of.
pub async fn record_mail_failure(
    tx: &mut Tx,
    source_event_id: i64,
    address: &str,
    reason: &str,
    at: i64,
) -> StoreResult<()> {
    let text = format!("Email to {address} could not be delivered: {reason}");
    sqlx::query(
        "INSERT INTO ticket_events (ticket_id, actor_id, kind, old_value, new_value, created_at)
         SELECT ticket_id, actor_id, $1, $2, $3, $4 FROM ticket_events WHERE id = $5",
    )
    .bind(MAIL_FAILED)
    .bind(address)
    .bind(text)
    .bind(at)
    .bind(source_event_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An event, with the actor's email.
#[derive(Clone, Debug)]
pub struct EventRow {
    pub id: i64,
    pub actor: String,
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub created_at: i64,
}

/// A ticket's events, oldest first.
pub async fn for_ticket(db: &Db, ticket_id: i64) -> StoreResult<Vec<EventRow>> {
    let rows = sqlx::query(
        "SELECT e.id, u.email, e.kind, e.old_value, e.new_value, e.created_at
         FROM ticket_events e JOIN users u ON u.id = e.actor_id
         WHERE e.ticket_id = $1 ORDER BY e.id",
    )
    .bind(ticket_id)
    .fetch_all(&mut db.read().await?)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                id: r.try_get("id")?,
                actor: r.try_get("email")?,
                kind: r.try_get("kind")?,
                from: r.try_get("old_value")?,
                to: r.try_get("new_value")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}
