//! Email notifications in the database: what the fan-out reads of an event and its people, the
//! ticket's thread root, and the mail queue (`mail_messages`) the worker claims under leases
//! with the same pattern as the outbox (`store::outbox`): look before claiming, `FOR UPDATE
//! SKIP LOCKED` on PostgreSQL, the single writer on SQLite.

use std::time::Duration;

use sqlx::Row;

use super::{Backend, Db, StoreResult, Tx, events, now_micros};
use crate::domain::people::Role;

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

/// A mail to queue.
#[derive(Clone, Debug)]
pub struct NewMail {
    pub outbox_id: i64,
    pub event_id: i64,
    pub ticket_id: i64,
    pub recipient: Recipient,
    pub message_id: String,
    pub in_reply_to: String,
    pub references: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub at: i64,
}

/// Queues a mail; nothing when this event already has one for this person (the outbox row was
/// fanned out before, by a process whose lease then ran out). Answers whether it queued one.
pub async fn queue(tx: &mut Tx, mail: &NewMail) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO mail_messages (outbox_id, event_id, ticket_id, recipient_id, recipient,
                                    message_id, in_reply_to, thread_references, subject,
                                    body_text, body_html, created_at, available_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
         ON CONFLICT (event_id, recipient_id) DO NOTHING",
    )
    .bind(mail.outbox_id)
    .bind(mail.event_id)
    .bind(mail.ticket_id)
    .bind(mail.recipient.id)
    .bind(&mail.recipient.email)
    .bind(&mail.message_id)
    .bind(&mail.in_reply_to)
    .bind(&mail.references)
    .bind(&mail.subject)
    .bind(&mail.body_text)
    .bind(&mail.body_html)
    .bind(mail.at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A queued mail this process holds the lease of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// Stable across attempts.
    pub id: i64,
    pub event_id: i64,
    pub ticket_id: i64,
    pub recipient: String,
    pub message_id: String,
    pub in_reply_to: String,
    pub references: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub created_at: i64,
}

/// Due, unleased pending mails, oldest first, leased to `$1` until `$2`.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE mail_messages SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM mail_messages
                          WHERE state = 'pending' AND available_at <= $3
                            AND (lease_until IS NULL OR lease_until < $3)
                          ORDER BY available_at, id LIMIT $4 ",
            $lock,
            ")
             RETURNING id, event_id, ticket_id, recipient, message_id, in_reply_to,
                       thread_references, subject, body_text, body_html, attempts, created_at"
        )
    };
}
const CLAIM_POSTGRES: &str = claim_sql!("FOR UPDATE SKIP LOCKED");
const CLAIM_SQLITE: &str = claim_sql!("");

/// Claims up to `limit` due mails for `owner` for `lease`.
pub async fn claim(db: &Db, owner: &str, lease: Duration, limit: i64) -> StoreResult<Vec<Claimed>> {
    let now = now_micros();
    let until = now.saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX));
    // An idle worker must not take the write lock several times a second: look first.
    let due = sqlx::query(
        "SELECT id FROM mail_messages WHERE state = 'pending' AND available_at <= $1
           AND (lease_until IS NULL OR lease_until < $1) LIMIT 1",
    )
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    let sql = match db.backend() {
        Backend::Postgres => CLAIM_POSTGRES,
        Backend::Sqlite => CLAIM_SQLITE,
    };
    let mut tx = db.begin_write().await?;
    let rows = sqlx::query(sql)
        .bind(owner)
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut claimed = rows
        .iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                event_id: r.try_get("event_id")?,
                ticket_id: r.try_get("ticket_id")?,
                recipient: r.try_get("recipient")?,
                message_id: r.try_get("message_id")?,
                in_reply_to: r.try_get("in_reply_to")?,
                references: r.try_get("thread_references")?,
                subject: r.try_get("subject")?,
                body_text: r.try_get("body_text")?,
                body_html: r.try_get("body_html")?,
                attempts: r.try_get("attempts")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// Marks a claimed mail sent. False when the lease was lost (another process sends it too,
/// which at-least-once allows).
pub async fn delivered(db: &Db, id: i64, owner: &str) -> StoreResult<bool> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE mail_messages SET state = 'delivered', sent_at = $1, lease_owner = NULL,
                                  lease_until = NULL, last_error = NULL
         WHERE id = $2 AND lease_owner = $3 AND state = 'pending'",
    )
    .bind(now_micros())
    .bind(id)
    .bind(owner)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(done == 1)
}

/// Gives a claimed mail back, due again at `at` (microseconds), with why it failed.
pub async fn retry(db: &Db, id: i64, owner: &str, at: i64, error: &str) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE mail_messages SET available_at = $1, lease_owner = NULL, lease_until = NULL,
                                  last_error = $2
         WHERE id = $3 AND lease_owner = $4 AND state = 'pending'",
    )
    .bind(at)
    .bind(error)
    .bind(id)
    .bind(owner)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Gives up on a claimed mail: marks it failed and, in the same transaction, leaves the
/// staff-only entry on the ticket's trail. False when the lease was lost.
pub async fn failed(db: &Db, mail: &Claimed, owner: &str, error: &str) -> StoreResult<bool> {
    let now = now_micros();
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE mail_messages SET state = 'failed', lease_owner = NULL, lease_until = NULL,
                                  last_error = $1
         WHERE id = $2 AND lease_owner = $3 AND state = 'pending'",
    )
    .bind(error)
    .bind(mail.id)
    .bind(owner)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if done != 1 {
        return Ok(false);
    }
    events::record_mail_failure(&mut tx, mail.event_id, &mail.recipient, error, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// One queued mail as the tests and (later) the inbound-mail matching read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailRow {
    pub id: i64,
    pub event_id: i64,
    pub recipient: String,
    pub message_id: String,
    pub in_reply_to: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// A ticket's mails, oldest first.
pub async fn for_ticket(db: &Db, ticket_id: i64) -> StoreResult<Vec<MailRow>> {
    let rows = sqlx::query(
        "SELECT id, event_id, recipient, message_id, in_reply_to, state, attempts, last_error
         FROM mail_messages WHERE ticket_id = $1 ORDER BY id",
    )
    .bind(ticket_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MailRow {
                id: r.try_get("id")?,
                event_id: r.try_get("event_id")?,
                recipient: r.try_get("recipient")?,
                message_id: r.try_get("message_id")?,
                in_reply_to: r.try_get("in_reply_to")?,
                state: r.try_get("state")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
            })
        })
        .collect()
}

/// The mail queue's state, for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
    /// Attempts beyond the first, over all mails.
    pub retries: i64,
    /// When the oldest pending mail was queued (microseconds), if any is pending.
    pub oldest_pending: Option<i64>,
}

pub async fn stats(db: &Db) -> StoreResult<Stats> {
    // PostgreSQL's SUM of BIGINT is NUMERIC, which the Any driver cannot read: cast back.
    let row = sqlx::query(
        "SELECT
           CAST(COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT)
             AS pending,
           CAST(COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) AS BIGINT)
             AS delivered,
           CAST(COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT)
             AS failed,
           CAST(COALESCE(SUM(CASE WHEN attempts > 1 THEN attempts - 1 ELSE 0 END), 0) AS BIGINT)
             AS retries,
           MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest
         FROM mail_messages",
    )
    .fetch_one(db.pool())
    .await?;
    Ok(Stats {
        pending: row.try_get("pending")?,
        delivered: row.try_get("delivered")?,
        failed: row.try_get("failed")?,
        retries: row.try_get("retries")?,
        oldest_pending: row.try_get("oldest")?,
    })
}
