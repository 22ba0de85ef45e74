//! Email notifications in the database: the mail queue (`mail_messages`) the worker claims
//! under leases with the same pattern as the outbox (`store::outbox`): look before claiming,
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL, the single writer on SQLite; and (`facts`) what the
//! fan-out reads of an event, its people and the ticket's thread root.

mod facts;

pub use facts::{
    EventFacts, Recipient, came_with_reply, event_facts, mailable, public_message, staff_for,
    thread_root,
};

use std::time::Duration;

use sqlx::Row;

use super::{Db, StoreResult, Tx, events, lease, now_micros, retention};

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
/// Its claim, in the steps every leased queue shares (`store::lease`).
const CLAIM: lease::ClaimSql = lease::ClaimSql {
    due: "SELECT id FROM mail_messages WHERE state = 'pending' AND available_at <= $1
           AND (lease_until IS NULL OR lease_until < $1) LIMIT 1",
    postgres: CLAIM_POSTGRES,
    sqlite: CLAIM_SQLITE,
    retries: Some(super::retention::totals::EMAIL_RETRIES),
};

/// Claims up to `limit` due mails for `owner` for `lease`.
pub async fn claim(db: &Db, owner: &str, lease: Duration, limit: i64) -> StoreResult<Vec<Claimed>> {
    let rows = lease::claim(db, &CLAIM, owner, lease, limit).await?;
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

/// What became of one attempt, to record.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The server took it.
    Delivered,
    /// Due again at this time (microseconds), after this error.
    Retry { at: i64, error: String },
    /// Given up (the schedule's end or a permanent refusal): failed, with the staff-only entry
    /// on the ticket's trail.
    Failed { error: String },
}

/// Records a claimed batch's outcomes in one transaction: under load the worker's writes then
/// cost one commit per batch, not one per mail (on SQLite each commit waits its turn behind
/// the requests' writes). A mail whose lease was lost meanwhile is left to its new holder.
pub async fn settle(db: &Db, owner: &str, outcomes: &[(Claimed, Outcome)]) -> StoreResult<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let now = now_micros();
    let mut tx = db.begin_write().await?;
    let (mut delivered, mut failed) = (0, 0);
    for (mail, outcome) in outcomes {
        let (state, at, error) = match outcome {
            Outcome::Delivered => ("delivered", None, None),
            Outcome::Retry { at, error } => ("pending", Some(*at), Some(error.as_str())),
            Outcome::Failed { error } => ("failed", None, Some(error.as_str())),
        };
        let done = sqlx::query(
            "UPDATE mail_messages
             SET state = $1, available_at = COALESCE($2, available_at),
                 sent_at = CASE WHEN $1 = 'delivered' THEN $3 ELSE sent_at END,
                 last_error = $4, lease_owner = NULL, lease_until = NULL
             WHERE id = $5 AND lease_owner = $6 AND state = 'pending'",
        )
        .bind(state)
        .bind(at)
        .bind(now)
        .bind(error)
        .bind(mail.id)
        .bind(owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 1
            && let Outcome::Failed { error } = outcome
        {
            events::record_mail_failure(&mut tx, mail.event_id, &mail.recipient, error, now)
                .await?;
        }
        match outcome {
            Outcome::Delivered if done == 1 => delivered += 1,
            Outcome::Failed { .. } if done == 1 => failed += 1,
            _ => {}
        }
    }
    retention::add(&mut tx, retention::totals::EMAIL_DELIVERED, delivered).await?;
    retention::add(&mut tx, retention::totals::EMAIL_FAILED, failed).await?;
    tx.commit().await?;
    Ok(())
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
    .fetch_all(&mut db.read().await?)
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
    /// Running totals: pruning does not lower them.
    pub delivered: i64,
    pub failed: i64,
    /// Attempts beyond a mail's first, ever.
    pub retries: i64,
    /// When the oldest pending mail was queued (microseconds), if any is pending.
    pub oldest_pending: Option<i64>,
}

pub async fn stats(db: &Db) -> StoreResult<Stats> {
    // Pending mails through their partial index; the rest from the running totals.
    let row = sqlx::query(
        "SELECT COUNT(*) AS pending, MIN(created_at) AS oldest
         FROM mail_messages WHERE state = 'pending'",
    )
    .fetch_one(&mut db.read().await?)
    .await?;
    Ok(Stats {
        pending: row.try_get("pending")?,
        delivered: retention::total(db, retention::totals::EMAIL_DELIVERED).await?,
        failed: retention::total(db, retention::totals::EMAIL_FAILED).await?,
        retries: retention::total(db, retention::totals::EMAIL_RETRIES).await?,
        oldest_pending: row.try_get("oldest")?,
    })
}
