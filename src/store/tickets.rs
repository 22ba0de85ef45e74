//! Tickets, their tags, conversations and attachment metadata.
//!
//! Every write to a ticket runs in one transaction that first locks its author's row
//! (`lock_author`), so the open-ticket limit and status checks see a stable count on every
//! backend and across server processes.

use crate::store::Conn;
use std::collections::HashSet;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::events::{self, EventKind};
use super::search;
use super::sql::{Bind, Conditions, like_pattern};
use super::writes::{
    Field, change_field, current_status, insert_attachments, lock_author, lock_author_adding,
    replace_tags, room_for_one_more, set_status, touch, touch_and_status,
};
use super::{Backend, Db, StoreResult, Tx, coded, now_micros};
use crate::domain::people::Person;
use crate::domain::ticket::{
    CustomerStatusRequest, Priority, Status, TransitionRefused, customer_transition, fold_subject,
};

/// A ticket as the history and the create answer show it. Also read from a JSON array of the
/// fields in this order (see `TICKET_FIELDS`).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct TicketRow {
    pub id: i64,
    pub author_id: i64,
    pub subject: String,
    pub priority: Priority,
    pub category_id: i64,
    pub category_title: String,
    pub comment: String,
    pub status: Status,
    pub assignee_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(super) const TICKET_COLUMNS: &str = "t.id, t.author_id, t.subject, t.priority, \
     t.category_id, c.name AS category_title, t.comment, t.status, t.assignee_id, t.created_at, \
     t.updated_at";

/// The catalog's change counter (see `settings::CATALOG_VERSION`), part of the history's validator:
/// the history shows category names.
const CATALOG_VERSION_SQL: &str =
    "COALESCE((SELECT value FROM settings WHERE name = 'catalog_version'), '0')";

/// `TicketRow`'s fields in order, as named by a subquery that selected `TICKET_COLUMNS`.
const TICKET_FIELDS: &str = "id, author_id, subject, priority, category_id, category_title, \
     comment, status, assignee_id, created_at, updated_at";

pub(super) fn ticket_from_row(row: &AnyRow) -> StoreResult<TicketRow> {
    Ok(TicketRow {
        id: row.try_get("id")?,
        author_id: row.try_get("author_id")?,
        subject: row.try_get("subject")?,
        priority: coded(row.try_get("priority")?)?,
        category_id: row.try_get("category_id")?,
        category_title: row.try_get("category_title")?,
        comment: row.try_get("comment")?,
        status: coded(row.try_get("status")?)?,
        assignee_id: row.try_get("assignee_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A message on a ticket after the opening comment.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ConversationRow {
    pub id: i64,
    pub ticket_id: i64,
    pub comment: String,
    pub author_email: String,
    pub created_at: i64,
}

/// Attachment metadata as the detailed view lists it.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct AttachmentRow {
    pub id: i64,
    pub conversation_id: Option<i64>,
    pub filename: String,
    pub size: i64,
    pub content_type: String,
}

pub(super) fn attachment_from_row(r: &AnyRow) -> StoreResult<AttachmentRow> {
    Ok(AttachmentRow {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        filename: r.try_get("filename")?,
        size: r.try_get("size")?,
        content_type: r.try_get("content_type")?,
    })
}

/// An attachment whose bytes are already in the attachment store.
#[derive(Clone, Debug)]
pub struct NewAttachment {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub storage_key: String,
}

/// Everything the detailed view shows of a ticket (internal notes left out).
pub struct TicketDetail {
    pub ticket: TicketRow,
    pub tags: Vec<i64>,
    pub author_email: String,
    pub conversations: Vec<ConversationRow>,
    pub attachments: Vec<AttachmentRow>,
}

/// The outcome of a write that the open-ticket limit or the status rules can refuse.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    LimitExceeded,
    Refused(TransitionRefused),
}

/// What a new ticket holds.
pub struct NewTicket<'a> {
    pub author_id: i64,
    pub subject: &'a str,
    pub priority: Priority,
    pub category_id: i64,
    pub comment: &'a str,
}

/// Filters of the history.
#[derive(Default)]
pub struct HistoryFilter {
    pub subject: Option<String>,
    pub category: Option<i64>,
    pub status: Option<i64>,
    pub offset: i64,
    pub limit: i64,
}

pub async fn category_is_active(db: &Db, id: i64) -> StoreResult<bool> {
    let row = sqlx::query("SELECT active FROM categories WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut db.read().await?)
        .await?;
    Ok(match row {
        Some(row) => super::flag(&row, "active")?,
        None => false,
    })
}

/// The ids of all active tags.
pub async fn active_tag_ids(db: &Db) -> StoreResult<HashSet<i64>> {
    let rows = sqlx::query("SELECT id FROM tags WHERE active = 1")
        .fetch_all(&mut db.read().await?)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
}

/// A ticket's tag ids, ascending.
pub(super) async fn tag_ids(conn: &mut Conn, ticket_id: i64) -> StoreResult<Vec<i64>> {
    let rows = sqlx::query("SELECT tag_id FROM ticket_tags WHERE ticket_id = $1 ORDER BY tag_id")
        .bind(ticket_id)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("tag_id")?)).collect()
}

pub async fn ticket_tag_ids(db: &Db, ticket_id: i64) -> StoreResult<Vec<i64>> {
    let mut conn = db.acquire().await?;
    tag_ids(&mut conn, ticket_id).await
}

pub async fn find_ticket(db: &Db, id: i64) -> StoreResult<Option<TicketRow>> {
    let mut conn = db.acquire().await?;
    load_ticket(&mut conn, id).await
}

pub(super) async fn load_ticket(conn: &mut Conn, id: i64) -> StoreResult<Option<TicketRow>> {
    let sql = format!(
        "SELECT {TICKET_COLUMNS} FROM tickets t JOIN categories c ON c.id = t.category_id
         WHERE t.id = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(ticket_from_row).transpose()
}

/// Creates a ticket with its attachments, unless its author is at the open-ticket limit.
pub async fn create_ticket(
    db: &Db,
    new: NewTicket<'_>,
    attachments: &[NewAttachment],
    open_limit: i64,
) -> StoreResult<Outcome<TicketRow>> {
    let mut tx = db.begin_write().await?;
    let outcome = create_ticket_in(&mut tx, db.backend(), new, attachments, open_limit).await?;
    if matches!(outcome, Outcome::Done(_)) {
        tx.commit().await?;
    }
    Ok(outcome)
}

/// [`create_ticket`] inside the caller's transaction (inbound mail records the message as
/// processed in the same one). A refusal leaves the transaction to be rolled back.
pub async fn create_ticket_in(
    tx: &mut Tx,
    backend: Backend,
    new: NewTicket<'_>,
    attachments: &[NewAttachment],
    open_limit: i64,
) -> StoreResult<Outcome<TicketRow>> {
    lock_author_adding(tx, new.author_id, 1).await?;
    if !room_for_one_more(tx, new.author_id, open_limit, 1).await? {
        return Ok(Outcome::LimitExceeded);
    }
    let now = now_micros();
    let row = sqlx::query(
        "INSERT INTO tickets (author_id, subject, subject_folded, priority, category_id, comment,
                              status, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         RETURNING id, author_id, subject, priority, category_id,
                   (SELECT name FROM categories c WHERE c.id = category_id) AS category_title,
                   comment, status, assignee_id, created_at, updated_at",
    )
    .bind(new.author_id)
    .bind(new.subject)
    .bind(fold_subject(new.subject))
    .bind(new.priority.code())
    .bind(new.category_id)
    .bind(new.comment)
    .bind(Status::Open.code())
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let ticket = ticket_from_row(&row)?;
    let id = ticket.id;
    insert_attachments(tx, id, None, attachments, now).await?;
    let names: Vec<&str> = attachments.iter().map(|a| a.filename.as_str()).collect();
    search::index::ticket_created(
        tx,
        backend,
        id,
        new.subject,
        new.comment,
        new.author_id,
        &names,
    )
    .await?;
    events::record(tx, id, new.author_id, EventKind::Created, None, None, now).await?;
    Ok(Outcome::Done(ticket))
}

/// One page of a person's history, how many tickets match in all, and the ETag validator of
/// the moment it was read (see `history_version`).
pub struct HistoryPage {
    pub tickets: Vec<TicketRow>,
    pub total: i64,
    pub version: (i64, String),
}

pub async fn history(db: &Db, author_id: i64, filter: &HistoryFilter) -> StoreResult<HistoryPage> {
    let mut conditions = Conditions::default();
    conditions.and("t.author_id = ?", [Bind::Int(author_id)]);
    if let Some(category) = filter.category {
        conditions.and("t.category_id = ?", [Bind::Int(category)]);
    }
    if let Some(status) = filter.status {
        conditions.and("t.status = ?", [Bind::Int(status)]);
    }
    if let Some(subject) = &filter.subject {
        let pattern = like_pattern(&fold_subject(subject));
        conditions.and("t.subject_folded LIKE ? ESCAPE '\\'", [Bind::Text(pattern)]);
    }
    let next = conditions.next_placeholder();
    // One statement answers both the count and the page, the page as one JSON text: a single
    // round trip and one row, instead of a row (and its conversion) per ticket. See
    // bench/README.md for what that changed.
    let where_sql = conditions.sql();
    let page = db.backend().json_rows(TICKET_FIELDS);
    // Without filters the count is the person's ticket counter, whatever their number.
    let count_sql =
        if filter.category.is_none() && filter.status.is_none() && filter.subject.is_none() {
            format!("SELECT ticket_count FROM users WHERE id = ${}", next + 2)
        } else {
            format!("SELECT COUNT(*) FROM tickets t WHERE {where_sql}")
        };
    let sql = format!(
        "SELECT ({count_sql}) AS n,
                (SELECT lock_version FROM users WHERE id = ${}) AS lock_version,
                {CATALOG_VERSION_SQL} AS catalog,
                (SELECT {page} FROM (
                    SELECT {TICKET_COLUMNS} FROM tickets t JOIN categories c ON c.id = t.category_id
                    WHERE {where_sql} ORDER BY t.created_at DESC, t.id DESC
                    LIMIT ${next} OFFSET ${}
                ) p) AS page",
        next + 2,
        next + 1
    );
    let row = conditions
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .bind(filter.limit)
        .bind(filter.offset)
        .bind(author_id)
        .fetch_one(&mut db.read().await?)
        .await?;
    let mut tickets: Vec<TicketRow> = super::from_json(&row.try_get::<String, _>("page")?)?;
    // Newest first, as the page was cut.
    tickets.sort_unstable_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
    Ok(HistoryPage {
        tickets,
        total: row.try_get("n")?,
        version: (row.try_get("lock_version")?, row.try_get("catalog")?),
    })
}

/// The detailed view of a ticket, without internal notes or their attachments, and the
/// author's write counter at the moment it was read (its ETag validator).
pub async fn ticket_detail(db: &Db, id: i64) -> StoreResult<Option<(TicketDetail, i64)>> {
    // One statement, each nested list as one JSON text: one round trip and one row, read
    // from one snapshot (so the write counter matches what it labels).
    let backend = db.backend();
    let tags = backend.json_rows("g.tag_id");
    let conversations = backend.json_rows("v.id, v.ticket_id, v.comment, cu.email, v.created_at");
    let attachments =
        backend.json_rows("a.id, a.conversation_id, a.filename, a.size, a.content_type");
    let sql = format!(
        "SELECT {TICKET_COLUMNS}, u.email AS author_email, u.lock_version,
            (SELECT {tags} FROM ticket_tags g WHERE g.ticket_id = t.id) AS tags,
            (SELECT {conversations} FROM conversations v JOIN users cu ON cu.id = v.author_id
             WHERE v.ticket_id = t.id AND v.internal = 0) AS conversations,
            (SELECT {attachments} FROM attachments a
             LEFT JOIN conversations av ON av.id = a.conversation_id
             WHERE a.ticket_id = t.id AND (av.internal IS NULL OR av.internal = 0)) AS attachments
         FROM tickets t JOIN categories c ON c.id = t.category_id JOIN users u ON u.id = t.author_id
         WHERE t.id = $1"
    );
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut db.read().await?)
        .await?
    else {
        return Ok(None);
    };
    let tags: Vec<(i64,)> = super::from_json(&row.try_get::<String, _>("tags")?)?;
    let mut tags: Vec<i64> = tags.into_iter().map(|(id,)| id).collect();
    let mut conversations: Vec<ConversationRow> =
        super::from_json(&row.try_get::<String, _>("conversations")?)?;
    let mut attachments: Vec<AttachmentRow> =
        super::from_json(&row.try_get::<String, _>("attachments")?)?;
    // The contract's order for nested lists: ascending id.
    tags.sort_unstable();
    conversations.sort_unstable_by_key(|c| c.id);
    attachments.sort_unstable_by_key(|a| a.id);
    let detail = TicketDetail {
        ticket: ticket_from_row(&row)?,
        tags,
        author_email: row.try_get("author_email")?,
        conversations,
        attachments,
    };
    Ok(Some((detail, row.try_get("lock_version")?)))
}

/// Sets a ticket's priority (when given) and replaces its tags, for its author.
pub async fn update_ticket(
    db: &Db,
    ticket: &TicketRow,
    actor_id: i64,
    priority: Option<Priority>,
    tags: &[i64],
) -> StoreResult<()> {
    let mut tx = db.begin_write().await?;
    lock_author(&mut tx, ticket.author_id).await?;
    let now = now_micros();
    if let Some(priority) = priority {
        let to = Some(priority.code());
        change_field(&mut tx, ticket.id, actor_id, Field::Priority, to, now).await?;
    }
    replace_tags(&mut tx, ticket.id, actor_id, tags, now).await?;
    touch(&mut tx, ticket.id, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds the author's comment to their ticket. A comment on a Closed ticket reopens it to
/// Processing, which the open-ticket limit may refuse (then nothing is stored).
pub async fn add_customer_conversation(
    db: &Db,
    ticket: &TicketRow,
    author: &Person,
    comment: &str,
    attachments: &[NewAttachment],
    open_limit: i64,
) -> StoreResult<Outcome<ConversationRow>> {
    let mut tx = db.begin_write().await?;
    let outcome = add_customer_conversation_in(
        &mut tx,
        db.backend(),
        ticket,
        author,
        comment,
        attachments,
        open_limit,
    )
    .await?;
    if matches!(outcome, Outcome::Done(_)) {
        tx.commit().await?;
    }
    Ok(outcome)
}

/// [`add_customer_conversation`] inside the caller's transaction; a refusal leaves it to be
/// rolled back.
pub async fn add_customer_conversation_in(
    tx: &mut Tx,
    backend: Backend,
    ticket: &TicketRow,
    author: &Person,
    comment: &str,
    attachments: &[NewAttachment],
    open_limit: i64,
) -> StoreResult<Outcome<ConversationRow>> {
    lock_author(tx, ticket.author_id).await?;
    let now = now_micros();
    // The ticket is touched first: the same statement answers its status, one round trip
    // fewer inside the write lock.
    if touch_and_status(tx, ticket.id, now).await? == Status::Closed {
        if !room_for_one_more(tx, ticket.author_id, open_limit, 0).await? {
            return Ok(Outcome::LimitExceeded);
        }
        set_status(
            tx,
            ticket.id,
            author.id,
            Status::Closed,
            Status::Processing,
            now,
        )
        .await?;
    }
    let row = sqlx::query(
        "INSERT INTO conversations (ticket_id, author_id, comment, internal, created_at)
         VALUES ($1, $2, $3, 0, $4) RETURNING id",
    )
    .bind(ticket.id)
    .bind(author.id)
    .bind(comment)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    let id: i64 = row.try_get("id")?;
    insert_attachments(tx, ticket.id, Some(id), attachments, now).await?;
    events::record(
        tx,
        ticket.id,
        author.id,
        EventKind::Comment,
        None,
        Some(id.to_string()),
        now,
    )
    .await?;
    let names: Vec<&str> = attachments.iter().map(|a| a.filename.as_str()).collect();
    search::index::message_added(tx, backend, ticket.id, comment, false, &names).await?;
    Ok(Outcome::Done(ConversationRow {
        id,
        ticket_id: ticket.id,
        comment: comment.to_owned(),
        author_email: author.email.clone(),
        created_at: now,
    }))
}

/// Closes or reopens a ticket for its author (endpoint 9).
pub async fn change_status_for_author(
    db: &Db,
    ticket: &TicketRow,
    request: CustomerStatusRequest,
    open_limit: i64,
) -> StoreResult<Outcome<()>> {
    let mut tx = db.begin_write().await?;
    lock_author(&mut tx, ticket.author_id).await?;
    let current = current_status(&mut tx, ticket.id).await?;
    let next = match customer_transition(current, request) {
        Ok(next) => next,
        Err(refused) => return Ok(Outcome::Refused(refused)),
    };
    if !current.is_open()
        && next.is_open()
        && !room_for_one_more(&mut tx, ticket.author_id, open_limit, 0).await?
    {
        return Ok(Outcome::LimitExceeded);
    }
    let now = now_micros();
    // A customer's transition always changes the status, so this also moves `updated_at`.
    set_status(&mut tx, ticket.id, ticket.author_id, current, next, now).await?;
    tx.commit().await?;
    Ok(Outcome::Done(()))
}

/// An attachment with what decides who may download it.
pub struct StoredAttachment {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub storage_key: String,
    pub ticket_author_id: i64,
    pub internal: bool,
}

pub async fn attachment_for_download(db: &Db, id: i64) -> StoreResult<Option<StoredAttachment>> {
    let row = sqlx::query(
        "SELECT a.filename, a.content_type, a.size, a.storage_key, t.author_id,
                COALESCE(v.internal, 0) AS internal
         FROM attachments a
         JOIN tickets t ON t.id = a.ticket_id
         LEFT JOIN conversations v ON v.id = a.conversation_id
         WHERE a.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut db.read().await?)
    .await?;
    row.map(|r| {
        Ok(StoredAttachment {
            filename: r.try_get("filename")?,
            content_type: r.try_get("content_type")?,
            size: r.try_get("size")?,
            storage_key: r.try_get("storage_key")?,
            ticket_author_id: r.try_get("author_id")?,
            internal: super::flag(&r, "internal")?,
        })
    })
    .transpose()
}

/// What changes whenever anything a person's history shows changes: their write counter
/// (bumped by every write to any of their tickets, see `lock_author`) and the catalog's.
pub async fn history_version(db: &Db, author_id: i64) -> StoreResult<(i64, String)> {
    let sql =
        format!("SELECT lock_version, {CATALOG_VERSION_SQL} AS catalog FROM users WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(author_id)
        .fetch_one(&mut db.read().await?)
        .await?;
    Ok((row.try_get("lock_version")?, row.try_get("catalog")?))
}

/// A ticket's author and that author's write counter, for validating a cached detailed view.
pub async fn ticket_version(db: &Db, ticket_id: i64) -> StoreResult<Option<(i64, i64)>> {
    let row = sqlx::query(
        "SELECT t.author_id, u.lock_version FROM tickets t JOIN users u ON u.id = t.author_id
         WHERE t.id = $1",
    )
    .bind(ticket_id)
    .fetch_optional(&mut db.read().await?)
    .await?;
    row.map(|r| Ok((r.try_get("author_id")?, r.try_get("lock_version")?)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_validator_reads_the_counter_catalog_edits_bump() {
        let name = format!("'{}'", super::super::settings::CATALOG_VERSION);
        assert!(CATALOG_VERSION_SQL.contains(&name), "{CATALOG_VERSION_SQL}");
    }
}
