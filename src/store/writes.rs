//! The steps every ticket write is made of, shared by the customer's writes (`tickets`) and the
//! staff's (`staff`): the author lock that serialises a person's writes, attachments, one
//! field changed with its event, the tag set replaced, the ticket touched.

use sqlx::Row;

use super::events::{self, EventKind};
use super::settings;
use super::tickets::{NewAttachment, tag_ids};
use super::{StoreResult, Tx, coded};
use crate::domain::ticket::Status;

/// Takes the per-person write lock for the rest of the transaction: a row lock on PostgreSQL,
/// and on SQLite the database write lock that `BEGIN IMMEDIATE` already holds. It also bumps
/// the person's write counter, the ETag validator of their history and tickets.
pub(super) async fn lock_author(tx: &mut Tx, author_id: i64) -> StoreResult<()> {
    lock_author_adding(tx, author_id, 0).await
}

/// [`lock_author`] for a transaction that files `new_tickets` tickets for the person: their
/// ticket counters (the history's unfiltered `count`, and the open count the limit reads) move
/// with the lock, so a refusal later in the transaction rolls them back with it.
pub(super) async fn lock_author_adding(
    tx: &mut Tx,
    author_id: i64,
    new_tickets: i64,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE users SET lock_version = lock_version + 1, ticket_count = ticket_count + $2,
                          open_count = open_count + $2
         WHERE id = $1",
    )
    .bind(author_id)
    .bind(new_tickets)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Whether one more open ticket fits under the limit in force (the administrators' setting,
/// else `default_limit`); call with the author's lock held, which also guards the author's
/// `open_count`. `filed_here` is how many tickets this transaction has filed for the author
/// already ([`lock_author_adding`] counts them as it takes the lock): the limit is about the
/// tickets before them. One round trip and one row, whatever the limit: it runs inside the write
/// lock, where every round trip is paid by every queued writer.
pub(super) async fn room_for_one_more(
    tx: &mut Tx,
    author_id: i64,
    default_limit: i64,
    filed_here: i64,
) -> StoreResult<bool> {
    let row = sqlx::query(
        "SELECT open_count AS n, (SELECT value FROM settings WHERE name = $2) AS setting
         FROM users WHERE id = $1",
    )
    .bind(author_id)
    .bind(settings::OPEN_TICKET_LIMIT)
    .fetch_one(&mut **tx)
    .await?;
    let open: i64 = row.try_get("n")?;
    let limit = settings::limit_from(row.try_get("setting")?, default_limit);
    Ok(open - filed_here < limit)
}

pub(super) async fn insert_attachments(
    tx: &mut Tx,
    ticket_id: i64,
    conversation_id: Option<i64>,
    attachments: &[NewAttachment],
    now: i64,
) -> StoreResult<()> {
    for a in attachments {
        sqlx::query(
            "INSERT INTO attachments
               (ticket_id, conversation_id, filename, content_type, size, storage_key, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ticket_id)
        .bind(conversation_id)
        .bind(&a.filename)
        .bind(&a.content_type)
        .bind(a.size)
        .bind(&a.storage_key)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The ticket columns that change one value at a time, each change recorded as its event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    Status,
    Priority,
    Category,
    Assignee,
}

impl Field {
    fn kind(self) -> EventKind {
        match self {
            Self::Status => EventKind::Status,
            Self::Priority => EventKind::Priority,
            Self::Category => EventKind::Category,
            Self::Assignee => EventKind::Assignee,
        }
    }

    fn select_sql(self) -> &'static str {
        match self {
            Self::Status => "SELECT status AS v FROM tickets WHERE id = $1",
            Self::Priority => "SELECT priority AS v FROM tickets WHERE id = $1",
            Self::Category => "SELECT category_id AS v FROM tickets WHERE id = $1",
            Self::Assignee => "SELECT assignee_id AS v FROM tickets WHERE id = $1",
        }
    }

    fn update_sql(self) -> &'static str {
        match self {
            Self::Status => "UPDATE tickets SET status = $1, updated_at = $3 WHERE id = $2",
            Self::Priority => "UPDATE tickets SET priority = $1, updated_at = $3 WHERE id = $2",
            Self::Category => "UPDATE tickets SET category_id = $1, updated_at = $3 WHERE id = $2",
            Self::Assignee => "UPDATE tickets SET assignee_id = $1, updated_at = $3 WHERE id = $2",
        }
    }
}

/// Sets `field` from `from` to `to` (and the ticket's `updated_at` to `now`) and records the
/// change; nothing when they are equal.
pub(super) async fn write_field(
    tx: &mut Tx,
    ticket_id: i64,
    actor_id: i64,
    field: Field,
    from: Option<i64>,
    to: Option<i64>,
    now: i64,
) -> StoreResult<()> {
    if from == to {
        return Ok(());
    }
    sqlx::query(field.update_sql())
        .bind(to)
        .bind(ticket_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    if field == Field::Status {
        move_open_count(tx, ticket_id, from, to).await?;
    }
    let text = |v: Option<i64>| v.map(|v| v.to_string());
    events::record(
        tx,
        ticket_id,
        actor_id,
        field.kind(),
        text(from),
        text(to),
        now,
    )
    .await
}

/// Keeps the author's `open_count` (what the open-ticket limit reads) when a status change
/// moves the ticket between an open status and closed; open and processing both count.
async fn move_open_count(
    tx: &mut Tx,
    ticket_id: i64,
    from: Option<i64>,
    to: Option<i64>,
) -> StoreResult<()> {
    let closed = Some(Status::Closed.code());
    let delta = match (from == closed, to == closed) {
        (true, false) => 1,
        (false, true) => -1,
        _ => return Ok(()),
    };
    sqlx::query(
        "UPDATE users SET open_count = open_count + $1
         WHERE id = (SELECT author_id FROM tickets WHERE id = $2)",
    )
    .bind(delta)
    .bind(ticket_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Reads `field`'s current value, then sets it to `to` as [`write_field`] does.
pub(super) async fn change_field(
    tx: &mut Tx,
    ticket_id: i64,
    actor_id: i64,
    field: Field,
    to: Option<i64>,
    now: i64,
) -> StoreResult<()> {
    let from: Option<i64> = sqlx::query(field.select_sql())
        .bind(ticket_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("v")?;
    write_field(tx, ticket_id, actor_id, field, from, to, now).await
}

/// Makes the ticket's tags exactly `tags`, recording the change when there is one.
pub(super) async fn replace_tags(
    tx: &mut Tx,
    ticket_id: i64,
    actor_id: i64,
    tags: &[i64],
    now: i64,
) -> StoreResult<()> {
    let before = tag_ids(tx, ticket_id).await?;
    let mut after = tags.to_vec();
    after.sort_unstable();
    after.dedup();
    if before == after {
        return Ok(());
    }
    sqlx::query("DELETE FROM ticket_tags WHERE ticket_id = $1")
        .bind(ticket_id)
        .execute(&mut **tx)
        .await?;
    for tag in &after {
        sqlx::query("INSERT INTO ticket_tags (ticket_id, tag_id) VALUES ($1, $2)")
            .bind(ticket_id)
            .bind(*tag)
            .execute(&mut **tx)
            .await?;
    }
    let list = |ids: &[i64]| ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    events::record(
        tx,
        ticket_id,
        actor_id,
        EventKind::Tags,
        Some(list(&before)),
        Some(list(&after)),
        now,
    )
    .await
}

pub(super) async fn touch(tx: &mut Tx, ticket_id: i64, now: i64) -> StoreResult<()> {
    sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(ticket_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Moves a ticket from `from` to `to`, recording the change.
pub(super) async fn set_status(
    tx: &mut Tx,
    ticket_id: i64,
    actor_id: i64,
    from: Status,
    to: Status,
    now: i64,
) -> StoreResult<()> {
    let (from, to) = (Some(from.code()), Some(to.code()));
    write_field(tx, ticket_id, actor_id, Field::Status, from, to, now).await
}

/// Sets the ticket's `updated_at` to `now` and answers its status (which this leaves alone).
pub(super) async fn touch_and_status(tx: &mut Tx, ticket_id: i64, now: i64) -> StoreResult<Status> {
    let code: i64 =
        sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2 RETURNING status")
            .bind(now)
            .bind(ticket_id)
            .fetch_one(&mut **tx)
            .await?
            .try_get("status")?;
    coded(code)
}

pub(super) async fn current_status(tx: &mut Tx, ticket_id: i64) -> StoreResult<Status> {
    let code: i64 = sqlx::query("SELECT status FROM tickets WHERE id = $1")
        .bind(ticket_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("status")?;
    coded(code)
}
