//! What the fan-out reads, inside the dispatcher's transaction: the event and its ticket, the
//! people to mail (active, not opted out), and the ticket's thread root Message-ID.

use sqlx::Row;

use crate::domain::people::Role;
use crate::store::{StoreResult, Tx};

/// What the fan-out needs to know of one recorded event.
#[derive(Clone, Debug)]
pub struct EventFacts {
    pub ticket_id: i64,
    pub ticket_subject: String,
    /// The ticket's first message.
    pub ticket_comment: String,
    pub author_id: i64,
    pub assignee_id: Option<i64>,
    pub actor_id: i64,
    pub actor_email: String,
    pub actor_role: Role,
    /// `created`, `status`, `comment`, `reply`, … (`events::EventKind`).
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub created_at: i64,
}

pub async fn event_facts(tx: &mut Tx, event_id: i64) -> StoreResult<Option<EventFacts>> {
    let row = sqlx::query(
        "SELECT e.ticket_id, t.subject, t.comment, t.author_id, t.assignee_id, e.actor_id,
                u.email AS actor_email, u.role AS actor_role, e.kind, e.old_value, e.new_value,
                e.created_at
         FROM ticket_events e
         JOIN tickets t ON t.id = e.ticket_id
         JOIN users u ON u.id = e.actor_id
         WHERE e.id = $1",
    )
    .bind(event_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| {
        let role: String = r.try_get("actor_role")?;
        Ok(EventFacts {
            ticket_id: r.try_get("ticket_id")?,
            ticket_subject: r.try_get("subject")?,
            ticket_comment: r.try_get("comment")?,
            author_id: r.try_get("author_id")?,
            assignee_id: r.try_get("assignee_id")?,
            actor_id: r.try_get("actor_id")?,
            actor_email: r.try_get("actor_email")?,
            // The CHECK constraint allows only the three names; customer is the least privilege.
            actor_role: role.parse().unwrap_or(Role::Customer),
            kind: r.try_get("kind")?,
            from: r.try_get("old_value")?,
            to: r.try_get("new_value")?,
            created_at: r.try_get("created_at")?,
        })
    })
    .transpose()
}

/// Whether the same write that made this status change also recorded a reply by the same
/// person (`staff::add_message` records both with one time).
pub async fn came_with_reply(tx: &mut Tx, facts: &EventFacts) -> StoreResult<bool> {
    let row = sqlx::query(
        "SELECT 1 AS hit FROM ticket_events
         WHERE ticket_id = $1 AND actor_id = $2 AND created_at = $3 AND kind = 'reply' LIMIT 1",
    )
    .bind(facts.ticket_id)
    .bind(facts.actor_id)
    .bind(facts.created_at)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.is_some())
}

/// The text of a conversation message of the ticket that is not an internal note: a note's
/// text is never read for a mail, whatever the event claims.
pub async fn public_message(
    tx: &mut Tx,
    ticket_id: i64,
    conversation_id: i64,
) -> StoreResult<Option<String>> {
    let row = sqlx::query(
        "SELECT comment FROM conversations WHERE id = $1 AND ticket_id = $2 AND internal = 0",
    )
    .bind(conversation_id)
    .bind(ticket_id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| Ok(r.try_get("comment")?)).transpose()
}

/// A person to mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    pub id: i64,
    pub email: String,
}

fn recipients(rows: &[sqlx::any::AnyRow]) -> StoreResult<Vec<Recipient>> {
    rows.iter()
        .map(|r| {
            Ok(Recipient {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
            })
        })
        .collect()
}

/// The person, when active and not opted out of email.
pub async fn mailable(tx: &mut Tx, id: i64) -> StoreResult<Option<Recipient>> {
    let rows = sqlx::query(
        "SELECT id, email FROM users WHERE id = $1 AND active = 1 AND email_notifications = 1",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    Ok(recipients(&rows)?.into_iter().next())
}

/// The staff to tell of a ticket: its assignee when it has an active one, otherwise every
/// active agent and administrator (the people a ticket can be assigned to); those who opted
/// out are left out either way.
pub async fn staff_for(tx: &mut Tx, assignee: Option<i64>) -> StoreResult<Vec<Recipient>> {
    if let Some(assignee) = assignee {
        let active: Option<i64> = sqlx::query(
            "SELECT email_notifications FROM users
             WHERE id = $1 AND active = 1 AND role IN ('agent', 'admin')",
        )
        .bind(assignee)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get("email_notifications"))
        .transpose()?;
        match active {
            Some(0) => return Ok(Vec::new()),
            Some(_) => return Ok(mailable(tx, assignee).await?.into_iter().collect()),
            // A deactivated assignee: the ticket is as good as unassigned.
            None => {}
        }
    }
    let rows = sqlx::query(
        "SELECT id, email FROM users
         WHERE active = 1 AND email_notifications = 1 AND role IN ('agent', 'admin')
         ORDER BY id",
    )
    .fetch_all(&mut **tx)
    .await?;
    recipients(&rows)
}

/// The ticket's thread root Message-ID: the stored one, or `candidate`, stored now.
pub async fn thread_root(
    tx: &mut Tx,
    ticket_id: i64,
    candidate: &str,
    at: i64,
) -> StoreResult<String> {
    sqlx::query(
        "INSERT INTO mail_threads (ticket_id, message_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (ticket_id) DO NOTHING",
    )
    .bind(ticket_id)
    .bind(candidate)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(
        sqlx::query("SELECT message_id FROM mail_threads WHERE ticket_id = $1")
            .bind(ticket_id)
            .fetch_one(&mut **tx)
            .await?
            .try_get("message_id")?,
    )
}
