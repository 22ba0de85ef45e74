//! Keeping the index: each write that adds searchable text updates its ticket's index row in
//! the same transaction (so a search never misses a committed word), and the resumable build
//! that fills the index for tickets written before it existed (`supportdesk reindex`).
//!
//! SQLite: one FTS5 row per ticket (`ticket_fts`, rowid = ticket id), a column per part.
//! PostgreSQL: one `tsvector` per ticket (`ticket_search`), the part as the word's weight.

use crate::store::Conn;
use std::collections::HashMap;

use sqlx::Row;

use super::super::{Backend, Db, StoreResult, Tx, settings};
use crate::domain::search::index_text;

/// The stored position of a build in progress: tickets with an id up to it are indexed. Absent
/// when the index is complete.
pub const REINDEX_AFTER: &str = "search_reindex_after";

/// Tickets per build transaction: long enough to amortise the round trips, short enough that
/// writers waiting behind it (the build holds the write lock) wait a fraction of a second.
const BATCH: i64 = 1000;

/// A PostgreSQL row stops growing past this size (bytes on disk; a `tsvector` fails at 1 MB):
/// a ticket with that much distinct text keeps what it has, and its writes still succeed.
const PG_DOC_MAX_BYTES: i64 = 500_000;
/// For the same reason, the text of one part is cut to this many bytes when a row is built.
const PG_PART_MAX_BYTES: usize = 200_000;

/// The tables FTS5 keeps the index in (SQLite).
const FTS_SHADOW_TABLES: &str = "'ticket_fts_data', 'ticket_fts_idx', 'ticket_fts_content', 'ticket_fts_docsize', 'ticket_fts_config'";

/// Drops the planner's statistics of the FTS5 tables (SQLite; call after `ANALYZE` or
/// `PRAGMA optimize`), so that it plans their statements as if they were large.
///
/// FTS5 removes the pages of a merged segment with `DELETE FROM ticket_fts_data WHERE id>=?
/// AND id<=?`. Statistics taken while the index was near empty (`ticket_fts_data` holds two
/// rows then: a new desk, or a seed analysed before its index was built) make the planner scan
/// the whole table for it instead of seeking the range; SQLite re-analyses only when a table
/// has grown 25-fold and only when asked, so a desk that grew while running kept the plan. On
/// a freshly indexed million-ticket desk each such delete read all 155 MB of the index, and
/// creates ran at 13 a second (bench/README.md, "The FTS5 statistics trap"). These tables are
/// only ever read by rowid or by their primary key, which the default estimates plan well.
pub async fn forget_statistics(db: &Db) -> StoreResult<()> {
    // One transaction: another process opening the desk at the same time (a CLI command beside
    // the server) waits for it, and a crash leaves neither the view below nor half the work.
    let mut tx = db.pool().begin().await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE name IN ('sqlite_stat1', 'sqlite_stat4')",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut forgotten = 0;
    for table in &tables {
        let sql = format!("DELETE FROM {table} WHERE tbl IN ({FTS_SHADOW_TABLES})");
        forgotten += sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    if forgotten > 0 {
        // A connection reads the statistics with the schema. A schema change (the view, made
        // and dropped) makes every connection (the writer's, where FTS5 runs, among them)
        // re-read them at its next statement once this commits.
        for sql in [
            "DROP VIEW IF EXISTS statistics_reload",
            "CREATE VIEW statistics_reload AS SELECT 1",
            "DROP VIEW statistics_reload",
        ] {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// A ticket's searchable text, folded into index words, per part.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    pub subject: String,
    pub messages: String,
    pub notes: String,
    pub files: String,
    pub email: String,
}

fn push(part: &mut String, text: &str) {
    let words = index_text(text);
    if words.is_empty() {
        return;
    }
    if !part.is_empty() {
        part.push(' ');
    }
    part.push_str(&words);
}

impl Doc {
    /// A new ticket's text.
    pub fn new(subject: &str, comment: &str, email: &str) -> Self {
        let mut doc = Self::default();
        push(&mut doc.subject, subject);
        push(&mut doc.messages, comment);
        push(&mut doc.email, email);
        doc
    }

    /// Adds a message (an internal note when `internal`) and the names of its files.
    pub fn add_message(&mut self, comment: &str, internal: bool) {
        push(
            if internal {
                &mut self.notes
            } else {
                &mut self.messages
            },
            comment,
        );
    }

    /// Adds a file name; a note's files are as private as the note.
    pub fn add_file(&mut self, filename: &str, internal: bool) {
        push(
            if internal {
                &mut self.notes
            } else {
                &mut self.files
            },
            filename,
        );
    }
}

/// Cuts `text` (words separated by spaces) to at most `max` bytes, at a space.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    if text.as_bytes().get(end) == Some(&b' ') {
        return &text[..end];
    }
    match text[..end].rfind(' ') {
        Some(space) => &text[..space],
        None => "",
    }
}

/// The PostgreSQL expression of a whole row from the placeholders of its subject, messages,
/// files and email, and notes; see the migration for the weights.
fn pg_doc(subject: usize, messages: usize, files: usize, notes: usize) -> String {
    format!(
        "setweight(to_tsvector('simple', ${subject}), 'A') \
         || setweight(to_tsvector('simple', ${messages}), 'B') \
         || setweight(to_tsvector('simple', ${files}), 'C') \
         || setweight(to_tsvector('simple', ${notes}), 'D')"
    )
}

/// Adds the words of `texts` (index words separated by spaces) to `search_words`, the list
/// prefixes are completed from (see the migration). In sorted order, so that two writers
/// adding the same new words wait for each other instead of deadlocking.
async fn remember_words<'a>(
    conn: &mut Conn,
    texts: impl IntoIterator<Item = &'a str>,
) -> StoreResult<()> {
    const ROWS: usize = 200;
    let mut words: Vec<&str> = texts
        .into_iter()
        .flat_map(|t| t.split(' '))
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_unstable();
    words.dedup();
    for chunk in words.chunks(ROWS) {
        let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("(${i})")).collect();
        let sql = format!(
            "INSERT INTO search_words (word) VALUES {} ON CONFLICT DO NOTHING",
            marks.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for word in chunk {
            query = query.bind(*word);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes a ticket's whole row, replacing any.
pub async fn put(conn: &mut Conn, backend: Backend, ticket_id: i64, doc: &Doc) -> StoreResult<()> {
    match backend {
        Backend::Sqlite => {
            // One statement: FTS5 deletes a row the rowid already names (REPLACE).
            sqlx::query(
                "INSERT OR REPLACE INTO ticket_fts (rowid, subject, messages, notes, files, email)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(ticket_id)
            .bind(&doc.subject)
            .bind(&doc.messages)
            .bind(&doc.notes)
            .bind(&doc.files)
            .bind(&doc.email)
            .execute(&mut *conn)
            .await?;
            remember_words(
                conn,
                [
                    doc.subject.as_str(),
                    &doc.messages,
                    &doc.notes,
                    &doc.files,
                    &doc.email,
                ],
            )
            .await?;
        }
        Backend::Postgres => {
            let files_and_email = format!("{} {}", doc.files, doc.email);
            let sql = format!(
                "INSERT INTO ticket_search (ticket_id, doc) VALUES ($1, {})
                 ON CONFLICT (ticket_id) DO UPDATE SET doc = EXCLUDED.doc",
                pg_doc(2, 3, 4, 5)
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(ticket_id)
                .bind(cut(&doc.subject, PG_PART_MAX_BYTES))
                .bind(cut(&doc.messages, PG_PART_MAX_BYTES))
                .bind(cut(&files_and_email, PG_PART_MAX_BYTES))
                .bind(cut(&doc.notes, PG_PART_MAX_BYTES))
                .execute(&mut *conn)
                .await?;
            remember_words(
                conn,
                [
                    doc.subject.as_str(),
                    &doc.messages,
                    &doc.notes,
                    &doc.files,
                    &doc.email,
                ],
            )
            .await?;
        }
    }
    Ok(())
}

/// Indexes a ticket just created in `tx`, with the names of its files.
pub async fn ticket_created(
    tx: &mut Tx,
    backend: Backend,
    ticket_id: i64,
    subject: &str,
    comment: &str,
    author_id: i64,
    filenames: &[&str],
) -> StoreResult<()> {
    let email: String = sqlx::query("SELECT email FROM users WHERE id = $1")
        .bind(author_id)
        .fetch_one(&mut **tx)
        .await?
        .try_get("email")?;
    let mut doc = Doc::new(subject, comment, &email);
    for name in filenames {
        doc.add_file(name, false);
    }
    put(tx, backend, ticket_id, &doc).await
}

/// Adds a message written in `tx` (a note when `internal`) and its files' names to the ticket's
/// row. Called after the transaction's other writes to the ticket: on PostgreSQL the row lock
/// this takes comes after the ticket's, in the order the build takes them too.
pub async fn message_added(
    tx: &mut Tx,
    backend: Backend,
    ticket_id: i64,
    comment: &str,
    internal: bool,
    filenames: &[&str],
) -> StoreResult<()> {
    let mut text = Doc::default();
    text.add_message(comment, internal);
    for name in filenames {
        text.add_file(name, internal);
    }
    let updated = match backend {
        Backend::Sqlite => {
            let sql = if internal {
                "UPDATE ticket_fts SET notes = notes || ' ' || $1 WHERE rowid = $2"
            } else {
                "UPDATE ticket_fts SET messages = messages || ' ' || $1,
                                       files = files || ' ' || $3
                 WHERE rowid = $2"
            };
            let (words, files) = if internal {
                (&text.notes, &text.files)
            } else {
                (&text.messages, &text.files)
            };
            let mut query = sqlx::query(sql).bind(words.as_str()).bind(ticket_id);
            if !internal {
                query = query.bind(files.as_str());
            }
            let updated = query.execute(&mut **tx).await?.rows_affected();
            remember_words(tx, [words.as_str(), files.as_str()]).await?;
            updated
        }
        Backend::Postgres => {
            let (words, weight, files) = if internal {
                (cut(&text.notes, PG_PART_MAX_BYTES), "D", "")
            } else {
                (
                    cut(&text.messages, PG_PART_MAX_BYTES),
                    "B",
                    cut(&text.files, PG_PART_MAX_BYTES),
                )
            };
            let sql = format!(
                "UPDATE ticket_search SET doc = CASE WHEN pg_column_size(doc) > {PG_DOC_MAX_BYTES}
                     THEN doc
                     ELSE doc || setweight(to_tsvector('simple', $1), '{weight}')
                              || setweight(to_tsvector('simple', $3), 'C') END
                 WHERE ticket_id = $2"
            );
            let updated = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(words)
                .bind(ticket_id)
                .bind(files)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            remember_words(tx, [words, files]).await?;
            updated
        }
    };
    if updated == 0 {
        // The ticket has no row yet (a build is still in progress): build it whole, with what
        // this transaction wrote.
        rebuild_one(tx, backend, ticket_id).await?;
    }
    Ok(())
}

async fn rebuild_one(tx: &mut Tx, backend: Backend, ticket_id: i64) -> StoreResult<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM tickets WHERE id = $1 FOR UPDATE")
            .bind(ticket_id)
            .execute(&mut **tx)
            .await?;
    }
    let docs = read_docs(tx, ticket_id - 1, ticket_id).await?;
    if let Some((id, doc)) = docs.first() {
        put(tx, backend, *id, doc).await?;
    }
    Ok(())
}

/// The documents of the tickets with `after < id <= last`, read from the tickets, messages
/// and attachments themselves, in id order.
async fn read_docs(conn: &mut Conn, after: i64, last: i64) -> StoreResult<Vec<(i64, Doc)>> {
    let rows = sqlx::query(
        "SELECT t.id, t.subject, t.comment, u.email FROM tickets t JOIN users u ON u.id = t.author_id
         WHERE t.id > $1 AND t.id <= $2 ORDER BY t.id",
    )
    .bind(after)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    let mut docs = Vec::with_capacity(rows.len());
    let mut at = HashMap::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        let subject: String = row.try_get("subject")?;
        let comment: String = row.try_get("comment")?;
        let email: String = row.try_get("email")?;
        at.insert(id, docs.len());
        docs.push((id, Doc::new(&subject, &comment, &email)));
    }
    let messages = sqlx::query(
        "SELECT ticket_id, comment, internal FROM conversations
         WHERE ticket_id > $1 AND ticket_id <= $2 ORDER BY ticket_id, id",
    )
    .bind(after)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    for row in &messages {
        let ticket: i64 = row.try_get("ticket_id")?;
        if let Some(&i) = at.get(&ticket) {
            let comment: String = row.try_get("comment")?;
            docs[i]
                .1
                .add_message(&comment, super::super::flag(row, "internal")?);
        }
    }
    let files = sqlx::query(
        "SELECT a.ticket_id, a.filename, COALESCE(v.internal, 0) AS internal
         FROM attachments a LEFT JOIN conversations v ON v.id = a.conversation_id
         WHERE a.ticket_id > $1 AND a.ticket_id <= $2 ORDER BY a.ticket_id, a.id",
    )
    .bind(after)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    for row in &files {
        let ticket: i64 = row.try_get("ticket_id")?;
        if let Some(&i) = at.get(&ticket) {
            let name: String = row.try_get("filename")?;
            docs[i]
                .1
                .add_file(&name, super::super::flag(row, "internal")?);
        }
    }
    Ok(docs)
}

/// How far a build has come, for its progress bar.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// The last ticket id indexed.
    pub after: i64,
    /// Tickets indexed so far, of `total`.
    pub done: i64,
    pub total: i64,
}

/// The position of a build in progress, if there is one.
pub async fn pending(db: &Db) -> StoreResult<Option<i64>> {
    let mut conn = db.acquire().await?;
    Ok(settings::get(&mut conn, REINDEX_AFTER)
        .await?
        .and_then(|v| v.parse().ok()))
}

/// Starts a build from the first ticket, unless one is in progress (then it continues) or
/// `from_start` says to begin again.
pub async fn start(db: &Db, from_start: bool) -> StoreResult<i64> {
    match pending(db).await? {
        Some(after) if !from_start => Ok(after),
        _ => {
            settings::set(db, REINDEX_AFTER, "0").await?;
            Ok(0)
        }
    }
}

/// Continues the build in progress until every ticket is indexed, telling `progress` after
/// each batch; the stored position moves with each batch, so an interrupted build continues
/// where it stopped. Safe while servers write: each batch takes the write lock (SQLite) or
/// locks the index table against writers (PostgreSQL) and reads the tickets only then, so a
/// message written meanwhile is either in what it reads or appended after it commits.
pub async fn run(db: &Db, mut progress: impl FnMut(Progress)) -> StoreResult<()> {
    let Some(mut after) = pending(db).await? else {
        return Ok(());
    };
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM tickets) AS total,
                (SELECT COUNT(*) FROM tickets WHERE id <= $1) AS done",
    )
    .bind(after)
    .fetch_one(&mut db.read().await?)
    .await?;
    let total: i64 = row.try_get("total")?;
    let mut done: i64 = row.try_get("done")?;
    progress(Progress { after, done, total });
    loop {
        let mut tx = db.begin_write().await?;
        if db.backend() == Backend::Postgres {
            // Conflicts with every writer's row updates, not with readers: writers that
            // already appended are committed before this reads, those that have not wait
            // and append to what this writes.
            sqlx::query("LOCK TABLE ticket_search IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
        }
        let last: Option<i64> = sqlx::query(
            "SELECT MAX(id) AS last FROM (SELECT id FROM tickets WHERE id > $1 ORDER BY id LIMIT $2) b",
        )
        .bind(after)
        .bind(BATCH)
        .fetch_one(&mut *tx)
        .await?
        .try_get("last")?;
        let Some(last) = last else {
            sqlx::query("DELETE FROM settings WHERE name = $1")
                .bind(REINDEX_AFTER)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(());
        };
        let docs = read_docs(&mut tx, after, last).await?;
        put_many(&mut tx, db.backend(), after, last, &docs).await?;
        sqlx::query("UPDATE settings SET value = $1 WHERE name = $2")
            .bind(last.to_string())
            .bind(REINDEX_AFTER)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        after = last;
        done += i64::try_from(docs.len()).unwrap_or(0);
        progress(Progress {
            after,
            done,
            total: total.max(done),
        });
    }
}

/// Replaces the rows of the tickets `after < id <= last` by `docs`, many rows a statement.
async fn put_many(
    tx: &mut Tx,
    backend: Backend,
    after: i64,
    last: i64,
    docs: &[(i64, Doc)],
) -> StoreResult<()> {
    const ROWS: usize = 100;
    match backend {
        Backend::Sqlite => {
            sqlx::query("DELETE FROM ticket_fts WHERE rowid > $1 AND rowid <= $2")
                .bind(after)
                .bind(last)
                .execute(&mut **tx)
                .await?;
            for chunk in docs.chunks(ROWS) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let b = i * 6;
                        format!(
                            "(${}, ${}, ${}, ${}, ${}, ${})",
                            b + 1,
                            b + 2,
                            b + 3,
                            b + 4,
                            b + 5,
                            b + 6
                        )
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO ticket_fts (rowid, subject, messages, notes, files, email) VALUES {}",
                    values.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, doc) in chunk {
                    query = query
                        .bind(*id)
                        .bind(doc.subject.as_str())
                        .bind(doc.messages.as_str())
                        .bind(doc.notes.as_str())
                        .bind(doc.files.as_str())
                        .bind(doc.email.as_str());
                }
                query.execute(&mut **tx).await?;
            }
            let texts = docs.iter().flat_map(|(_, d)| {
                [
                    d.subject.as_str(),
                    &d.messages,
                    &d.notes,
                    &d.files,
                    &d.email,
                ]
            });
            remember_words(tx, texts).await?;
        }
        Backend::Postgres => {
            for chunk in docs.chunks(ROWS) {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let b = i * 5;
                        format!("(${}, {})", b + 1, pg_doc(b + 2, b + 3, b + 4, b + 5))
                    })
                    .collect();
                let sql = format!(
                    "INSERT INTO ticket_search (ticket_id, doc) VALUES {}
                     ON CONFLICT (ticket_id) DO UPDATE SET doc = EXCLUDED.doc",
                    values.join(", ")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, doc) in chunk {
                    query = query
                        .bind(*id)
                        .bind(cut(&doc.subject, PG_PART_MAX_BYTES).to_owned())
                        .bind(cut(&doc.messages, PG_PART_MAX_BYTES).to_owned())
                        .bind(
                            cut(&format!("{} {}", doc.files, doc.email), PG_PART_MAX_BYTES)
                                .to_owned(),
                        )
                        .bind(cut(&doc.notes, PG_PART_MAX_BYTES).to_owned());
                }
                query.execute(&mut **tx).await?;
            }
            let texts = docs.iter().flat_map(|(_, d)| {
                [
                    d.subject.as_str(),
                    &d.messages,
                    &d.notes,
                    &d.files,
                    &d.email,
                ]
            });
            remember_words(tx, texts).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_stops_at_a_space_within_the_bound() {
        assert_eq!(cut("abc def ghi", 100), "abc def ghi");
        assert_eq!(cut("abc def ghi", 9), "abc def");
        assert_eq!(cut("abcdef", 3), "");
        assert_eq!(cut("éé éé", 4), "éé");
    }

    #[test]
    fn notes_and_their_files_stay_in_the_notes() {
        let mut doc = Doc::new("Subject", "First", "a@b.example");
        doc.add_message("Secret plan", true);
        doc.add_file("secret.pdf", true);
        doc.add_file("receipt.pdf", false);
        assert_eq!(doc.notes, "secret plan secret pdf");
        assert_eq!(doc.files, "receipt pdf");
        assert_eq!(doc.email, "a b example");
    }
}
