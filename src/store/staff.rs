//! What agents and administrators do to tickets: replies, internal notes, and changes to status,
//! priority, category, tags and assignee. Each write records its events.

use sqlx::Row;

use super::events::{self, EventKind};
use super::search;
use super::tickets::{AttachmentRow, NewAttachment, TicketRow, attachment_from_row};
use super::writes::{
    Field, change_field, current_status, insert_attachments, lock_author, replace_tags, set_status,
    touch,
};
use super::{Backend, Db, StoreResult, Tx, now_micros};
use crate::domain::people::Person;
use crate::domain::ticket::{Priority, Status};

/// The changes an agent asks for; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct StaffChanges {
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub category: Option<i64>,
    pub tags: Option<Vec<i64>>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<i64>>,
}

/// Applies the changes in one transaction.
pub async fn update(
    db: &Db,
    ticket: &TicketRow,
    actor_id: i64,
    changes: &StaffChanges,
) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    lock_author(&mut tx, ticket.author_id).await?;
    let now = now_micros();
    // The order of the events: status, priority, category, tags, assignee.
    let fields = [
        (Field::Status, changes.status.map(|s| Some(s.code()))),
        (Field::Priority, changes.priority.map(|p| Some(p.code()))),
        (Field::Category, changes.category.map(Some)),
    ];
    for (field, to) in fields {
        if let Some(to) = to {
            change_field(&mut tx, ticket.id, actor_id, field, to, now).await?;
        }
    }
    if let Some(tags) = &changes.tags {
        replace_tags(&mut tx, ticket.id, actor_id, tags, now).await?;
    }
    if let Some(to) = changes.assignee {
        change_field(&mut tx, ticket.id, actor_id, Field::Assignee, to, now).await?;
    }
    touch(&mut tx, ticket.id, now).await?;
    tx.commit().await?;
    Ok(())
}

/// A conversation message as staff see it, internal notes included.
#[derive(Clone, Debug)]
pub struct StaffConversation {
    pub id: i64,
    pub comment: String,
    pub author_email: String,
    pub internal: bool,
    pub created_at: i64,
}

/// Adds a reply (seen by the customer) or an internal note (never seen by the customer). The
/// first reply to an Open ticket makes it Processing.
///
/// A note changes nothing a customer can observe: it leaves the ticket's `updated_at` and the
/// author's write counter (their ETag validators) alone, so neither the history nor the
/// detailed view, nor a 304 turning into a 200, tells the customer that staff wrote about them.
/// Staff see the note in the ticket's conversation and event trail.
pub async fn add_message(
    db: &Db,
    ticket: &TicketRow,
    actor: &Person,
    comment: &str,
    attachments: &[NewAttachment],
    internal: bool,
) -> StoreResult<StaffConversation> {
    let mut tx = db.begin_write().await?;
    let done = add_message_in(
        &mut tx,
        db.backend(),
        ticket,
        actor,
        comment,
        attachments,
        internal,
    )
    .await?;
    tx.commit().await?;
    Ok(done)
}

/// [`add_message`] inside the caller's transaction (inbound mail: a staff reply by email).
pub async fn add_message_in(
    tx: &mut Tx,
    backend: Backend,
    ticket: &TicketRow,
    actor: &Person,
    comment: &str,
    attachments: &[NewAttachment],
    internal: bool,
) -> StoreResult<StaffConversation> {
    if !internal {
        lock_author(tx, ticket.author_id).await?;
    }
    let now = now_micros();
    let row = sqlx::query(
        "INSERT INTO conversations (ticket_id, author_id, comment, internal, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(ticket.id)
    .bind(actor.id)
    .bind(comment)
    .bind(i64::from(internal))
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    insert_attachments(tx, ticket.id, Some(id), attachments, now).await?;
    let kind = if internal {
        EventKind::Note
    } else {
        EventKind::Reply
    };
    events::record(
        tx,
        ticket.id,
        actor.id,
        kind,
        None,
        Some(id.to_string()),
        now,
    )
    .await?;
    if !internal && current_status(tx, ticket.id).await? == Status::Open {
        set_status(
            tx,
            ticket.id,
            actor.id,
            Status::Open,
            Status::Processing,
            now,
        )
        .await?;
    }
    if !internal {
        touch(tx, ticket.id, now).await?;
    }
    // Last: on PostgreSQL the index row is locked after the ticket row, as the build does.
    let names: Vec<&str> = attachments.iter().map(|a| a.filename.as_str()).collect();
    search::index::message_added(tx, backend, ticket.id, comment, internal, &names).await?;
    Ok(StaffConversation {
        id,
        comment: comment.to_owned(),
        author_email: actor.email.clone(),
        internal,
        created_at: now,
    })
}

/// Every message of a ticket, internal notes included, oldest first.
pub async fn conversations(db: &Db, ticket_id: i64) -> StoreResult<Vec<StaffConversation>> {
    let rows = sqlx::query(
        "SELECT v.id, v.comment, u.email, v.internal, v.created_at
         FROM conversations v JOIN users u ON u.id = v.author_id
         WHERE v.ticket_id = $1 ORDER BY v.id",
    )
    .bind(ticket_id)
    .fetch_all(&mut db.read().await?)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StaffConversation {
                id: r.try_get("id")?,
                comment: r.try_get("comment")?,
                author_email: r.try_get("email")?,
                internal: super::flag(r, "internal")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Every attachment of a ticket, those of internal notes included.
pub async fn attachments(db: &Db, ticket_id: i64) -> StoreResult<Vec<AttachmentRow>> {
    let rows = sqlx::query(
        "SELECT id, conversation_id, filename, size, content_type
         FROM attachments WHERE ticket_id = $1 ORDER BY id",
    )
    .bind(ticket_id)
    .fetch_all(&mut db.read().await?)
    .await?;
    rows.iter().map(attachment_from_row).collect()
}

/// Whether `id` is an active agent or administrator, who can be assigned tickets.
pub async fn is_assignable(db: &Db, id: i64) -> StoreResult<bool> {
    let row = sqlx::query(
        "SELECT 1 AS ok FROM users WHERE id = $1 AND active = 1 AND role IN ('agent', 'admin')",
    )
    .bind(id)
    .fetch_optional(&mut db.read().await?)
    .await?;
    Ok(row.is_some())
}

/// The email of a person, for showing an assignee.
pub async fn email_of(db: &Db, id: i64) -> StoreResult<Option<String>> {
    let row = sqlx::query("SELECT email FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut db.read().await?)
        .await?;
    row.map(|r| Ok(r.try_get("email")?)).transpose()
}

/// The active agents and administrators (id and email), who can be assigned tickets, by email.
pub async fn assignable(db: &Db) -> StoreResult<Vec<(i64, String)>> {
    // Every console page asks this. The partial index `users_staff` (migration 0015) answers
    // it only while its predicate is written here word for word: `role IN ('agent', 'admin')`.
    let rows = sqlx::query(
        "SELECT id, email FROM users WHERE active = 1 AND role IN ('agent', 'admin') ORDER BY email",
    )
    .fetch_all(&mut db.read().await?)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("email")?)))
        .collect()
}
