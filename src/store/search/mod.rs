//! Search: tickets ranked by how well they match a parsed query (`domain::search`), with where
//! they matched and a snippet. One function set over both backends: FTS5 on SQLite, a stored
//! `tsvector` with a GIN index on PostgreSQL (see the migration `0011_search`).
//!
//! Ranking is bounded: the newest [`CANDIDATES`] matching tickets (after the filters) are
//! ranked by relevance (FTS5's `bm25`, PostgreSQL's `ts_rank`; subject words weigh most), and
//! `total` counts matches exactly up to that bound. A word found in every ticket then costs
//! what a rare one does, and the newest tickets are the ones a desk looks for.

pub mod index;
pub mod render;

use std::collections::HashMap;

use sqlx::Row;

pub use render::Audience;

use super::queue::AssigneeFilter;
use super::sql::{Bind, Conditions, like_pattern};
use super::tickets::{TICKET_COLUMNS, TicketRow, ticket_from_row};
use super::{Backend, Db, StoreResult};
use crate::domain::search::{Phrase, Query, snippet, words};

/// How many matching tickets are ranked, and counted exactly.
pub const CANDIDATES: i64 = 1000;
/// About how many characters a snippet holds.
const SNIPPET_CHARS: usize = 160;

/// A search: the parsed query, who asks, and the filters of the query string.
#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub query: Query,
    /// `Some(author)`: a customer, who finds only their own tickets and never notes.
    pub customer: Option<i64>,
    /// Statuses from the query string (`status=`); `status:` words of the query narrow further.
    pub statuses: Vec<i64>,
    pub category: Option<i64>,
    pub assignee: Option<AssigneeFilter>,
    /// Continue after the hit with this (score, id).
    pub after: Option<(f64, i64)>,
    pub limit: i64,
}

/// Where a query's words were found in a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Subject,
    Message,
    Note,
    File,
    Email,
}

impl Place {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subject => "subject",
            Self::Message => "message",
            Self::Note => "note",
            Self::File => "file",
            Self::Email => "email",
        }
    }
}

pub struct Hit {
    pub ticket: TicketRow,
    pub author_email: String,
    pub score: f64,
    pub matched_in: Vec<Place>,
    pub snippet: Option<String>,
}

pub struct SearchPage {
    pub hits: Vec<Hit>,
    /// Matching tickets, exact when `total_exact`; else there are more than [`CANDIDATES`].
    pub total: i64,
    pub total_exact: bool,
}

pub async fn search(db: &Db, request: &SearchRequest) -> StoreResult<SearchPage> {
    let audience = if request.customer.is_some() {
        Audience::Customer
    } else {
        Audience::Staff
    };
    let query = &request.query;
    let mut c = Conditions::default();
    if query.has_text() {
        // The match text is the first value bound.
        let text = match db.backend() {
            Backend::Sqlite => render::fts5(query, audience),
            Backend::Postgres => render::tsquery(query, audience),
        };
        c.and(
            match db.backend() {
                Backend::Sqlite => "ticket_fts MATCH ?",
                Backend::Postgres => "s.doc @@ to_tsquery('simple', ?)",
            },
            [Bind::Text(text)],
        );
    }
    if let Some(author) = request.customer {
        c.and("t.author_id = ?", [Bind::Int(author)]);
    }
    c.and_in("t.status", &request.statuses);
    let query_statuses: Vec<i64> = query.statuses.iter().map(|s| s.code()).collect();
    c.and_in("t.status", &query_statuses);
    for id in &query.tickets {
        c.and("t.id = ?", [Bind::Int(*id)]);
    }
    for part in &query.from {
        c.and(
            "t.author_id IN (SELECT id FROM users WHERE lower(email) LIKE ? ESCAPE '\\')",
            [Bind::Text(like_pattern(part))],
        );
    }
    if let Some(category) = request.category {
        c.and("t.category_id = ?", [Bind::Int(category)]);
    }
    match request.assignee {
        Some(AssigneeFilter::Unassigned) => c.and("t.assignee_id IS NULL", []),
        Some(AssigneeFilter::Person(id)) => c.and("t.assignee_id = ?", [Bind::Int(id)]),
        None => {}
    }
    let candidates = candidates_sql(db.backend(), query.has_text(), audience, &c.sql());
    let n = c.next_placeholder();
    let (page_filter, limit_at) = match request.after {
        Some(_) => (
            format!("m.score < ${n} OR (m.score = ${n} AND m.id < ${})", n + 1),
            n + 2,
        ),
        None => ("1 = 1".to_owned(), n),
    };
    // The count comes on every row, and alone (on a row of NULLs) when the page is empty.
    let sql = format!(
        "WITH m AS ({candidates}),
         p AS (SELECT m.id, m.score FROM m WHERE {page_filter}
               ORDER BY m.score DESC, m.id DESC LIMIT ${limit_at})
         SELECT n.total, p.score, {TICKET_COLUMNS}, u.email AS author_email
         FROM (SELECT COUNT(*) AS total FROM m) n
         LEFT JOIN p ON 1 = 1
         LEFT JOIN tickets t ON t.id = p.id
         LEFT JOIN categories c ON c.id = t.category_id
         LEFT JOIN users u ON u.id = t.author_id
         ORDER BY p.score DESC, p.id DESC"
    );
    let mut q = c.bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)));
    if let Some((score, id)) = request.after {
        q = q.bind(score).bind(id);
    }
    let rows = q.bind(request.limit).fetch_all(db.pool()).await?;
    let mut hits = Vec::with_capacity(rows.len());
    let mut total = 0;
    for row in &rows {
        total = row.try_get("total")?;
        if row.try_get::<Option<i64>, _>("id")?.is_none() {
            continue;
        }
        hits.push(Hit {
            ticket: ticket_from_row(row)?,
            author_email: row.try_get("author_email")?,
            score: row.try_get("score")?,
            matched_in: Vec::new(),
            snippet: None,
        });
    }
    if query.has_text() {
        explain(db, &mut hits, &query.include, audience).await?;
    }
    Ok(SearchPage {
        total: total.min(CANDIDATES),
        total_exact: total <= CANDIDATES,
        hits,
    })
}

/// The newest matching tickets, up to one more than [`CANDIDATES`] (to know whether there are
/// more), each with its score (higher is better). Customers are driven from their own tickets
/// (a few, by the author index); staff from the index, newest first, which stops after the
/// bound however common the word.
fn candidates_sql(backend: Backend, text: bool, audience: Audience, filter: &str) -> String {
    let bound = CANDIDATES + 1;
    match (backend, text, audience) {
        (_, false, _) => format!(
            "SELECT t.id AS id, CAST(0 AS DOUBLE PRECISION) AS score FROM tickets t WHERE {filter}
             ORDER BY t.id DESC LIMIT {bound}"
        ),
        // Weights: subject, messages, notes, files, email.
        (Backend::Sqlite, true, Audience::Staff) => format!(
            "SELECT t.id AS id, -bm25(ticket_fts, 5.0, 1.0, 1.0, 1.0, 1.0) AS score
             FROM ticket_fts CROSS JOIN tickets t ON t.id = ticket_fts.rowid
             WHERE {filter} ORDER BY ticket_fts.rowid DESC LIMIT {bound}"
        ),
        (Backend::Sqlite, true, Audience::Customer) => format!(
            "SELECT t.id AS id, -bm25(ticket_fts, 5.0, 1.0, 1.0, 1.0, 1.0) AS score
             FROM tickets t CROSS JOIN ticket_fts ON ticket_fts.rowid = t.id
             WHERE {filter} ORDER BY t.id DESC LIMIT {bound}"
        ),
        (Backend::Postgres, true, _) => format!(
            "SELECT t.id AS id, ts_rank(s.doc, to_tsquery('simple', $1))::float8 AS score
             FROM ticket_search s JOIN tickets t ON t.id = s.ticket_id
             WHERE {filter} ORDER BY s.ticket_id DESC LIMIT {bound}"
        ),
    }
}

/// Fills in where each hit matched and its snippet, from the ticket's own text (what the
/// audience may see of it), read for this page only.
async fn explain(
    db: &Db,
    hits: &mut [Hit],
    phrases: &[Phrase],
    audience: Audience,
) -> StoreResult<()> {
    if hits.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = hits.iter().map(|h| h.ticket.id).collect();
    let mut c = Conditions::default();
    c.and_in("ticket_id", &ids);
    if audience == Audience::Customer {
        c.and("internal = 0", []);
    }
    let sql = format!(
        "SELECT ticket_id, comment, internal FROM conversations WHERE {} ORDER BY id",
        c.sql()
    );
    let rows = c
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .fetch_all(db.pool())
        .await?;
    let mut messages: HashMap<i64, Vec<(String, bool)>> = HashMap::new();
    for row in &rows {
        messages
            .entry(row.try_get("ticket_id")?)
            .or_default()
            .push((row.try_get("comment")?, super::flag(row, "internal")?));
    }
    let mut c = Conditions::default();
    c.and_in("a.ticket_id", &ids);
    if audience == Audience::Customer {
        c.and("COALESCE(v.internal, 0) = 0", []);
    }
    let sql = format!(
        "SELECT a.ticket_id, a.filename, COALESCE(v.internal, 0) AS internal
         FROM attachments a LEFT JOIN conversations v ON v.id = a.conversation_id
         WHERE {} ORDER BY a.id",
        c.sql()
    );
    let rows = c
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .fetch_all(db.pool())
        .await?;
    let mut files: HashMap<i64, Vec<(String, bool)>> = HashMap::new();
    for row in &rows {
        files
            .entry(row.try_get("ticket_id")?)
            .or_default()
            .push((row.try_get("filename")?, super::flag(row, "internal")?));
    }
    let matches = |text: &str| {
        let w = words(text);
        phrases
            .iter()
            .any(|p| crate::domain::search::find_phrase(&w, p).is_some())
    };
    for hit in hits {
        let id = hit.ticket.id;
        let mut places = Vec::new();
        let mut snip: Option<String> = None;
        let mut consider = |place: Place, text: &str, places: &mut Vec<Place>| {
            if matches(text) {
                if !places.contains(&place) {
                    places.push(place);
                }
                if snip.is_none() {
                    snip = snippet(text, phrases, SNIPPET_CHARS);
                }
            }
        };
        consider(Place::Subject, &hit.ticket.subject, &mut places);
        consider(Place::Message, &hit.ticket.comment, &mut places);
        for (text, internal) in messages.get(&id).into_iter().flatten() {
            let place = if *internal {
                Place::Note
            } else {
                Place::Message
            };
            consider(place, text, &mut places);
        }
        for (name, internal) in files.get(&id).into_iter().flatten() {
            let place = if *internal { Place::Note } else { Place::File };
            consider(place, name, &mut places);
        }
        consider(Place::Email, &hit.author_email, &mut places);
        places.sort_by_key(|p| *p as u8);
        hit.matched_in = places;
        hit.snippet = snip;
    }
    Ok(())
}
