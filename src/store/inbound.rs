//! Inbound mail in the database: every message stored raw under (mailbox, Message-ID) before
//! anything else happens to it, claimed for processing under a lease like the other queues
//! (`store::lease`), and finished in the transaction that made it a ticket or a comment; the
//! quarantine; where each IMAP mailbox was read up to; the desk's own answers to mail.

use std::time::Duration;

use sqlx::Row;

use super::{Backend, Db, StoreResult, Tx, lease, now_micros};

/// Where a message was kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Kept now, under this id.
    New(i64),
    /// Already kept (the same mailbox and Message-ID): nothing new.
    Duplicate,
}

/// A message to keep.
pub struct NewInbound<'a> {
    pub mailbox: &'a str,
    pub message_id: &'a str,
    /// What is kept: the whole mail, or the beginning of an oversize one.
    pub raw: &'a [u8],
    /// The size received (larger than `raw` for an oversize mail; for the endpoint, as far as
    /// it read).
    pub size: usize,
    pub category_id: Option<i64>,
    /// `None` to process; `Some(reason)` to keep it quarantined at once (over the size limit).
    pub quarantine: Option<&'a str>,
}

/// Keeps a message; a second copy of (mailbox, Message-ID) changes nothing.
pub async fn store(db: &Db, new: &NewInbound<'_>) -> StoreResult<Stored> {
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "INSERT INTO inbound_messages (mailbox, message_id, raw, size, category_id, state, reason,
                                       received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (mailbox, message_id) DO NOTHING RETURNING id",
    )
    .bind(new.mailbox)
    .bind(new.message_id)
    .bind(new.raw.to_vec())
    .bind(i64::try_from(new.size).unwrap_or(i64::MAX))
    .bind(new.category_id)
    .bind(if new.quarantine.is_some() {
        "quarantined"
    } else {
        "pending"
    })
    .bind(new.quarantine)
    .bind(now_micros())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    match row {
        Some(row) => Ok(Stored::New(row.try_get("id")?)),
        None => Ok(Stored::Duplicate),
    }
}

/// A kept message this process holds the lease of.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: i64,
    pub mailbox: String,
    pub message_id: String,
    pub raw: Vec<u8>,
    pub category_id: Option<i64>,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE inbound_messages SET lease_owner = $1, lease_until = $2,
                    attempts = attempts + 1
             WHERE id IN (SELECT id FROM inbound_messages
                          WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < $3)
                          ORDER BY id LIMIT $4 ",
            $lock,
            ")
             RETURNING id, mailbox, message_id, raw, category_id, attempts"
        )
    };
}
const CLAIM: lease::ClaimSql = lease::ClaimSql {
    due: "SELECT id FROM inbound_messages WHERE state = 'pending'
           AND (lease_until IS NULL OR lease_until < $1) LIMIT 1",
    postgres: claim_sql!("FOR UPDATE SKIP LOCKED"),
    sqlite: claim_sql!(""),
    retries: None,
};

/// Claims up to `limit` pending messages, oldest first.
pub async fn claim(db: &Db, owner: &str, lease: Duration, limit: i64) -> StoreResult<Vec<Claimed>> {
    let rows = lease::claim(db, &CLAIM, owner, lease, limit).await?;
    let mut claimed = rows
        .iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                mailbox: r.try_get("mailbox")?,
                message_id: r.try_get("message_id")?,
                raw: r.try_get("raw")?,
                category_id: r.try_get("category_id")?,
                attempts: r.try_get("attempts")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

/// What became of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finished {
    Processed,
    Ignored,
    Quarantined,
}

impl Finished {
    fn as_str(self) -> &'static str {
        match self {
            Self::Processed => "processed",
            Self::Ignored => "ignored",
            Self::Quarantined => "quarantined",
        }
    }
}

/// What is recorded with the outcome.
#[derive(Clone, Debug, Default)]
pub struct Outcome<'a> {
    pub reason: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub ticket_id: Option<i64>,
}

/// Records the outcome in the caller's transaction, if this process still holds the message:
/// false when its lease was lost (another process is on it), and the caller must roll back.
pub async fn finish(
    tx: &mut Tx,
    id: i64,
    owner: &str,
    state: Finished,
    outcome: &Outcome<'_>,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE inbound_messages
         SET state = $1, reason = $2, sender = $3, subject = $4, ticket_id = $5,
             processed_at = $6, lease_owner = NULL, lease_until = NULL
         WHERE id = $7 AND lease_owner = $8 AND state = 'pending'",
    )
    .bind(state.as_str())
    .bind(outcome.reason)
    .bind(outcome.sender)
    .bind(outcome.subject)
    .bind(outcome.ticket_id)
    .bind(now_micros())
    .bind(id)
    .bind(owner)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a claimed message back after a failed attempt: pending again (after the lease), or
/// quarantined with the error once `max_attempts` were made, so that no message blocks others.
pub async fn give_back(
    db: &Db,
    id: i64,
    owner: &str,
    attempts: i64,
    max_attempts: i64,
    error: &str,
) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    if attempts >= max_attempts {
        sqlx::query(
            "UPDATE inbound_messages SET state = 'quarantined', reason = $1, lease_owner = NULL,
                    lease_until = NULL, processed_at = $2
             WHERE id = $3 AND lease_owner = $4 AND state = 'pending'",
        )
        .bind(format!("processing failed {attempts} times: {error}"))
        .bind(now_micros())
        .bind(id)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    } else {
        sqlx::query("UPDATE inbound_messages SET reason = $1 WHERE id = $2 AND lease_owner = $3")
            .bind(error)
            .bind(id)
            .bind(owner)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Whether another copy of this Message-ID (another mailbox, the raw endpoint) already became a
/// ticket or a comment. Asked in the writing transaction: on SQLite under the write lock; on
/// PostgreSQL under a transaction advisory lock on the Message-ID, taken first, so that two
/// copies processed in the same instant by two processes are decided one after the other (the
/// second waits for the first's commit and then sees it; without the lock both passed).
pub async fn already_processed(
    tx: &mut Tx,
    backend: Backend,
    message_id: &str,
    id: i64,
) -> StoreResult<bool> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(message_lock_key(message_id))
            .execute(&mut **tx)
            .await?;
    }
    let row = sqlx::query(
        "SELECT 1 AS hit FROM inbound_messages
         WHERE message_id = $1 AND id <> $2 AND state = 'processed' AND ticket_id IS NOT NULL
         LIMIT 1",
    )
    .bind(message_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.is_some())
}

/// The advisory-lock key of a Message-ID, the same in every process.
fn message_lock_key(message_id: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("inbound message-id:{message_id}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Most ids of `In-Reply-To` and `References` looked up.
const MAX_THREAD_IDS: usize = 50;

/// The ticket a reply belongs to by the Message-IDs it answers: a mail the desk sent, a
/// ticket's thread root, or an earlier inbound mail that became part of a ticket. The most
/// recent reference wins.
pub async fn ticket_by_message_ids(db: &Db, ids: &[String]) -> StoreResult<Option<i64>> {
    for id in ids.iter().rev().take(MAX_THREAD_IDS) {
        // The desk keeps the ids it sent with their angle brackets, inbound ones without.
        let row = sqlx::query(
            "SELECT ticket_id FROM mail_messages WHERE message_id = $1
             UNION ALL SELECT ticket_id FROM mail_threads WHERE message_id = $1
             UNION ALL SELECT ticket_id FROM inbound_messages
                       WHERE message_id = $2 AND state = 'processed' AND ticket_id IS NOT NULL
             LIMIT 1",
        )
        .bind(format!("<{id}>"))
        .bind(id)
        .fetch_optional(&mut db.read().await?)
        .await?;
        if let Some(row) = row {
            return Ok(Some(row.try_get("ticket_id")?));
        }
    }
    Ok(None)
}

/// A message as the quarantine lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Listed {
    pub id: i64,
    pub mailbox: String,
    pub message_id: String,
    pub size: i64,
    pub state: String,
    pub reason: Option<String>,
    pub sender: Option<String>,
    pub subject: Option<String>,
    pub received_at: i64,
}

/// The quarantined messages, oldest first (at most `limit`).
pub async fn quarantined(db: &Db, limit: i64) -> StoreResult<Vec<Listed>> {
    let rows = sqlx::query(
        "SELECT id, mailbox, message_id, size, state, reason, sender, subject, received_at
         FROM inbound_messages WHERE state = 'quarantined' ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut db.read().await?)
    .await?;
    rows.iter().map(listed).collect()
}

/// Every kept message, newest first (at most `limit`): the tests and the CLI's `list --all`.
pub async fn recent(db: &Db, limit: i64) -> StoreResult<Vec<Listed>> {
    let rows = sqlx::query(
        "SELECT id, mailbox, message_id, size, state, reason, sender, subject, received_at
         FROM inbound_messages ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut db.read().await?)
    .await?;
    rows.iter().map(listed).collect()
}

fn listed(r: &sqlx::any::AnyRow) -> StoreResult<Listed> {
    Ok(Listed {
        id: r.try_get("id")?,
        mailbox: r.try_get("mailbox")?,
        message_id: r.try_get("message_id")?,
        size: r.try_get("size")?,
        state: r.try_get("state")?,
        reason: r.try_get("reason")?,
        sender: r.try_get("sender")?,
        subject: r.try_get("subject")?,
        received_at: r.try_get("received_at")?,
    })
}

/// What a retry did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Pending again.
    Done,
    /// No quarantined message has that id.
    NotFound,
    /// Only the beginning of an oversize mail was kept: processing it would make a ticket of
    /// a truncated mail.
    Truncated,
}

/// Puts a quarantined message back to be processed.
pub async fn retry(db: &Db, id: i64) -> StoreResult<Retry> {
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(
        "SELECT CAST(CASE WHEN size = length(raw) THEN 1 ELSE 0 END AS BIGINT) AS whole
         FROM inbound_messages WHERE id = $1 AND state = 'quarantined'",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Ok(Retry::NotFound);
    };
    if row.try_get::<i64, _>("whole")? != 1 {
        return Ok(Retry::Truncated);
    }
    sqlx::query(
        "UPDATE inbound_messages SET state = 'pending', attempts = 0, lease_owner = NULL,
                lease_until = NULL, processed_at = NULL
         WHERE id = $1 AND state = 'quarantined'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Retry::Done)
}

/// Deletes a quarantined message for good; false when no quarantined message has that id.
pub async fn delete(db: &Db, id: i64) -> StoreResult<bool> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query("DELETE FROM inbound_messages WHERE id = $1 AND state = 'quarantined'")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Where an IMAP mailbox was read up to: (UIDVALIDITY, last UID kept).
pub async fn mailbox_position(db: &Db, mailbox: &str) -> StoreResult<Option<(i64, i64)>> {
    let row =
        sqlx::query("SELECT uid_validity, last_uid FROM inbound_mailboxes WHERE mailbox = $1")
            .bind(mailbox)
            .fetch_optional(&mut db.read().await?)
            .await?;
    row.map(|r| Ok((r.try_get("uid_validity")?, r.try_get("last_uid")?)))
        .transpose()
}

/// Records where an IMAP mailbox was read up to.
pub async fn set_mailbox_position(
    db: &Db,
    mailbox: &str,
    uid_validity: i64,
    last_uid: i64,
) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO inbound_mailboxes (mailbox, uid_validity, last_uid, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (mailbox) DO UPDATE SET uid_validity = $2, last_uid = $3, updated_at = $4",
    )
    .bind(mailbox)
    .bind(uid_validity)
    .bind(last_uid)
    .bind(now_micros())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One of the desk's answers to a mail.
#[derive(Clone, Debug)]
pub struct NewReply<'a> {
    pub inbound_id: i64,
    pub recipient: &'a str,
    pub message_id: &'a str,
    pub in_reply_to: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
}

/// How many answers went to `recipient` since `since` (microseconds): the loop protection.
pub async fn replies_since(tx: &mut Tx, recipient: &str, since: i64) -> StoreResult<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM inbound_replies WHERE recipient = $1 AND created_at >= $2",
    )
    .bind(recipient)
    .bind(since)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("n")?)
}

/// Queues an answer in the caller's transaction.
pub async fn queue_reply(tx: &mut Tx, reply: &NewReply<'_>) -> StoreResult<()> {
    let now = now_micros();
    sqlx::query(
        "INSERT INTO inbound_replies (inbound_id, recipient, message_id, in_reply_to, subject,
                                      body_text, created_at, available_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(reply.inbound_id)
    .bind(reply.recipient)
    .bind(reply.message_id)
    .bind(reply.in_reply_to)
    .bind(reply.subject)
    .bind(reply.body_text)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A queued answer taken for sending.
#[derive(Clone, Debug)]
pub struct ClaimedReply {
    pub id: i64,
    pub recipient: String,
    pub message_id: String,
    pub in_reply_to: String,
    pub subject: String,
    pub body_text: String,
    pub attempts: i64,
    pub created_at: i64,
}

macro_rules! claim_replies_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE inbound_replies SET available_at = $2, attempts = attempts + 1
             WHERE id IN (SELECT id FROM inbound_replies
                          WHERE state = 'pending' AND available_at <= $3
                          ORDER BY available_at, id LIMIT $4 ",
            $lock,
            ") AND $1 = $1
             RETURNING id, recipient, message_id, in_reply_to, subject, body_text, attempts,
                       created_at"
        )
    };
}
/// The lease is the due time moved forward: a sender killed mid-way leaves the answer due again
/// after the lease.
const CLAIM_REPLIES: lease::ClaimSql = lease::ClaimSql {
    due: "SELECT id FROM inbound_replies WHERE state = 'pending' AND available_at <= $1 LIMIT 1",
    postgres: claim_replies_sql!("FOR UPDATE SKIP LOCKED"),
    sqlite: claim_replies_sql!(""),
    retries: None,
};

pub async fn claim_replies(
    db: &Db,
    owner: &str,
    lease: Duration,
    limit: i64,
) -> StoreResult<Vec<ClaimedReply>> {
    let rows = lease::claim(db, &CLAIM_REPLIES, owner, lease, limit).await?;
    rows.iter()
        .map(|r| {
            Ok(ClaimedReply {
                id: r.try_get("id")?,
                recipient: r.try_get("recipient")?,
                message_id: r.try_get("message_id")?,
                in_reply_to: r.try_get("in_reply_to")?,
                subject: r.try_get("subject")?,
                body_text: r.try_get("body_text")?,
                attempts: r.try_get("attempts")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Records what became of an answer: delivered, due again at `retry_at`, or failed.
pub async fn settle_reply(
    db: &Db,
    id: i64,
    state: &str,
    retry_at: Option<i64>,
    error: Option<&str>,
) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE inbound_replies SET state = $1, available_at = COALESCE($2, available_at),
                last_error = $3
         WHERE id = $4 AND state = 'pending'",
    )
    .bind(state)
    .bind(retry_at)
    .bind(error)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The answers queued for a message (tests).
pub async fn replies_for(db: &Db, inbound_id: i64) -> StoreResult<Vec<(String, String, String)>> {
    let rows = sqlx::query(
        "SELECT recipient, subject, state FROM inbound_replies WHERE inbound_id = $1 ORDER BY id",
    )
    .bind(inbound_id)
    .fetch_all(&mut db.read().await?)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("recipient")?,
                r.try_get("subject")?,
                r.try_get("state")?,
            ))
        })
        .collect()
}

/// Creates the customer a first mail comes from, in the caller's transaction: no password
/// (`!` matches no hash), so they cannot sign in until given one, and mail is how they write.
pub async fn create_customer_in(tx: &mut Tx, email: &str) -> StoreResult<i64> {
    let row = sqlx::query(
        "INSERT INTO users (email, password_hash, role, active, created_at)
         VALUES ($1, '!', 'customer', 1, $2) RETURNING id",
    )
    .bind(email)
    .bind(now_micros())
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("id")?)
}
