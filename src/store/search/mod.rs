//! Search: tickets ranked by how well they match a parsed query (`domain::search`), with where
//! they matched and a snippet. One function set over both backends: FTS5 on SQLite, a stored
//! `tsvector` with a GIN index on PostgreSQL (see the migration `0011_search`).
//!
//! Ranking is bounded: the newest [`CANDIDATES`] matching tickets (after the filters) are
//! ranked by relevance (on SQLite by [`relevance`], here; on PostgreSQL by `ts_rank`; subject
//! words weigh most on both), and `total` counts matches exactly up to that bound. A word
//! found in every ticket then costs what a rare one does, and the newest tickets are the ones
//! a desk looks for.

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
pub const CANDIDATES: i64 = 100;
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
    // A customer's query on SQLite is matched here, not by FTS5 (see `customer_candidates`).
    let desk_matches = db.backend() == Backend::Sqlite && audience == Audience::Customer;
    if query.has_text() && !desk_matches {
        // The match text is the first value bound. A customer's prefixes keep the engine's
        // own prefix operator: the word list is the whole desk's (notes and other customers'
        // tickets included), and which of its words a prefix completes to would tell a
        // customer what others wrote (by probing which of their own tickets a prefix finds).
        let completions = match audience {
            Audience::Staff => complete(db, query).await?,
            Audience::Customer => render::Completions::new(),
        };
        let (template, text) = match db.backend() {
            Backend::Sqlite => (
                "ticket_fts MATCH ?",
                render::fts5(query, audience, &completions),
            ),
            Backend::Postgres => (
                "s.doc @@ to_tsquery('simple', ?)",
                render::tsquery(query, audience, &completions),
            ),
        };
        c.and(template, [Bind::Text(text)]);
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

    // Only the match itself: the staff query then reads the index alone, without a lookup of
    // each candidate's ticket row (which no condition needs).
    let text_only = query.has_text() && !desk_matches && c.count() == 1;
    let mut found = candidates(db, &c, query, audience, text_only).await?;
    let total = i64::try_from(found.len()).unwrap_or(i64::MAX);
    found.truncate(usize::try_from(CANDIDATES).unwrap_or(usize::MAX));
    // Best first; ties newest first. The cursor continues after the last hit of a page.
    found.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    let page: Vec<(i64, f64)> = found
        .into_iter()
        .filter(|(id, score)| match request.after {
            Some((s, i)) => *score < s || (*score == s && *id < i),
            None => true,
        })
        .take(usize::try_from(request.limit).unwrap_or(0))
        .collect();
    let mut hits = load(db, &page).await?;
    if query.has_text() {
        explain(db, &mut hits, &query.include, audience).await?;
    }
    Ok(SearchPage {
        total: total.min(CANDIDATES),
        total_exact: total <= CANDIDATES,
        hits,
    })
}

/// At most this many words stand for a prefix; a prefix that begins more keeps the engine's
/// own prefix operator, so that no ticket is missed.
const COMPLETIONS: i64 = 64;

/// The words of the index that each prefix of the query begins, when there are at most
/// [`COMPLETIONS`] of them.
async fn complete(db: &Db, query: &Query) -> StoreResult<render::Completions> {
    let mut completions = render::Completions::new();
    for phrase in query.include.iter().chain(&query.exclude) {
        let Some(last) = phrase.words.last().filter(|_| phrase.prefix) else {
            continue;
        };
        // Every word that begins with `last` sorts between it and `last` + the last character.
        let rows = sqlx::query(
            "SELECT word FROM search_words WHERE word >= $1 AND word < $2
             ORDER BY word LIMIT $3",
        )
        .bind(last.as_str())
        .bind(format!("{last}\u{10FFFF}"))
        .bind(COMPLETIONS + 1)
        .fetch_all(&mut db.read().await?)
        .await?;
        let words = rows
            .iter()
            .map(|r| r.try_get("word"))
            .collect::<Result<Vec<String>, _>>()?;
        // More than the bound: the first words alone would drop every ticket whose word
        // sorts later; leave this prefix to the engine's own operator.
        if i64::try_from(words.len()).unwrap_or(i64::MAX) <= COMPLETIONS {
            completions.insert(last.clone(), words);
        }
    }
    Ok(completions)
}

/// The newest matching tickets, up to one more than [`CANDIDATES`] (to know whether there are
/// more), each with its score (higher is better). Customers are driven from their own tickets
/// (by the author index; on SQLite matched by the desk, see [`customer_candidates`]); staff
/// from the index, newest first, which stops after the bound however common the word.
async fn candidates(
    db: &Db,
    c: &Conditions,
    query: &Query,
    audience: Audience,
    text_only: bool,
) -> StoreResult<Vec<(i64, f64)>> {
    let bound = CANDIDATES + 1;
    let filter = c.sql();
    if !query.has_text() {
        let sql =
            format!("SELECT t.id FROM tickets t WHERE {filter} ORDER BY t.id DESC LIMIT {bound}");
        let rows = c
            .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_all(&mut db.read().await?)
            .await?;
        return rows.iter().map(|r| Ok((r.try_get("id")?, 0.0))).collect();
    }
    match db.backend() {
        Backend::Sqlite if audience == Audience::Customer => {
            customer_candidates(db, c, query, bound).await
        }
        Backend::Sqlite => {
            // FTS5's bm25() counts every ticket holding each word before it ranks one (all
            // million for a word in every ticket); the candidates are ranked here instead,
            // from the words of each part. (Staff only: customers are matched above.)
            let columns = "ticket_fts.rowid AS id, ticket_fts.subject, ticket_fts.messages, \
                 ticket_fts.notes, ticket_fts.files, ticket_fts.email";
            let sql = if text_only {
                format!(
                    "SELECT {columns} FROM ticket_fts
                     WHERE {filter} ORDER BY ticket_fts.rowid DESC LIMIT {bound}"
                )
            } else {
                format!(
                    "SELECT {columns} FROM ticket_fts CROSS JOIN tickets t ON t.id = ticket_fts.rowid
                     WHERE {filter} ORDER BY ticket_fts.rowid DESC LIMIT {bound}"
                )
            };
            let rows = c
                .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
                .fetch_all(&mut db.read().await?)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let mut score = 0.0;
                for (column, weight) in [
                    ("subject", 5.0),
                    ("messages", 1.0),
                    ("notes", 1.0),
                    ("files", 1.0),
                    ("email", 1.0),
                ] {
                    let text: String = row.try_get(column)?;
                    score += weight * relevance(&text, &query.include);
                }
                out.push((row.try_get("id")?, score));
            }
            Ok(out)
        }
        Backend::Postgres => {
            // ts_rank counts every position of a word, whatever weights the query allows:
            // a customer's rank must not see the notes' (weight D) positions, or the order and
            // the cursor's score would tell a customer how often staff wrote their word.
            let doc = match audience {
                Audience::Staff => "s.doc",
                Audience::Customer => "ts_filter(s.doc, '{a,b,c}')",
            };
            let sql = format!(
                "SELECT t.id AS id, ts_rank({doc}, to_tsquery('simple', $1))::float8 AS score
                 FROM ticket_search s JOIN tickets t ON t.id = s.ticket_id
                 WHERE {filter} ORDER BY s.ticket_id DESC LIMIT {bound}"
            );
            // Planned with this query's words every time: a cached generic plan cannot tell a
            // word in every ticket (walk the newest tickets) from a rare one (ask the index).
            let rows = c
                .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
                .persistent(false)
                .fetch_all(&mut db.read().await?)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("id")?, r.try_get("score")?)))
                .collect()
        }
    }
}

/// A customer's matches on SQLite, newest first: their own tickets (with the other conditions
/// of `c`), matched against the query here, from the parts customers see. FTS5 would evaluate
/// its match once per ticket, and a customer's last word is a prefix (the desk's word list is
/// not used for customers, see `search`), for which FTS5 merges the lists of every word it
/// begins, each time: at a million tickets, a second and more per query.
///
/// First the ids alone, newest first (sorting integers costs little even for a customer with
/// many tickets), then their index rows a chunk at a time until the bound is reached: a
/// customer with a long history pays for the text of the tickets read, never for all of it.
async fn customer_candidates(
    db: &Db,
    c: &Conditions,
    query: &Query,
    bound: i64,
) -> StoreResult<Vec<(i64, f64)>> {
    const CHUNK: usize = 128;
    let sql = format!(
        "SELECT t.id FROM tickets t WHERE {} ORDER BY t.id DESC",
        c.sql()
    );
    let ids: Vec<i64> = c
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .fetch_all(&mut db.read().await?)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect::<Result<_, _>>()?;
    let bound = usize::try_from(bound).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let mut which = Conditions::default();
        which.and_in("rowid", chunk);
        let sql = format!(
            "SELECT rowid AS id, subject, messages, files, email FROM ticket_fts WHERE {}",
            which.sql()
        );
        let rows = which
            .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
            .fetch_all(&mut db.read().await?)
            .await?;
        let mut texts = HashMap::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let mut parts = Vec::with_capacity(4);
            for column in ["subject", "messages", "files", "email"] {
                parts.push(row.try_get::<String, _>(column)?);
            }
            texts.insert(id, parts);
        }
        // In the chunk's order (newest first), whatever order the rows came back in.
        for id in chunk {
            let Some(parts) = texts.get(id) else {
                continue;
            };
            let split: Vec<(Vec<&str>, f64)> = parts
                .iter()
                .zip([5.0, 1.0, 1.0, 1.0])
                .map(|(text, weight)| (index_words(text), weight))
                .collect();
            let found = |p: &Phrase| split.iter().any(|(w, _)| occurrences(w, p) > 0);
            if !query.include.iter().all(found) || query.exclude.iter().any(found) {
                continue;
            }
            let score = split
                .iter()
                .map(|(w, weight)| weight * relevance_of(w, &query.include))
                .sum();
            out.push((*id, score));
            if out.len() >= bound {
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// The words of an index text (separated by spaces; none when empty).
fn index_words(text: &str) -> Vec<&str> {
    if text.is_empty() {
        Vec::new()
    } else {
        text.split(' ').collect()
    }
}

/// How often `phrase` occurs in `words`, as FTS5 matches it: its words one after the other,
/// the last one's beginning when it is a prefix.
fn occurrences(words: &[&str], p: &Phrase) -> usize {
    let n = p.words.len();
    if n == 0 || words.len() < n {
        return 0;
    }
    (0..=words.len() - n)
        .filter(|&start| {
            p.words.iter().enumerate().all(|(i, want)| {
                let have = words[start + i];
                if p.prefix && i + 1 == n {
                    have.starts_with(want.as_str())
                } else {
                    have == want
                }
            })
        })
        .count()
}

fn relevance_of(words: &[&str], phrases: &[Phrase]) -> f64 {
    phrases
        .iter()
        .map(|p| (1.0 + occurrences(words, p) as f64).ln())
        .sum()
}

/// How well index words (`text`, separated by spaces) match the phrases: each phrase adds
/// the logarithm of its occurrences, so a second mention counts less than the first and no
/// phrase drowns the others.
fn relevance(text: &str, phrases: &[Phrase]) -> f64 {
    relevance_of(&index_words(text), phrases)
}

/// The hits of a page, in its order.
async fn load(db: &Db, page: &[(i64, f64)]) -> StoreResult<Vec<Hit>> {
    if page.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = page.iter().map(|(id, _)| *id).collect();
    let mut c = Conditions::default();
    c.and_in("t.id", &ids);
    let sql = format!(
        "SELECT {TICKET_COLUMNS}, u.email AS author_email
         FROM tickets t
         JOIN categories c ON c.id = t.category_id
         JOIN users u ON u.id = t.author_id
         WHERE {}",
        c.sql()
    );
    let rows = c
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .fetch_all(&mut db.read().await?)
        .await?;
    let mut by_id = HashMap::with_capacity(rows.len());
    for row in &rows {
        let ticket = ticket_from_row(row)?;
        let email: String = row.try_get("author_email")?;
        by_id.insert(ticket.id, (ticket, email));
    }
    Ok(page
        .iter()
        .filter_map(|(id, score)| {
            by_id.remove(id).map(|(ticket, author_email)| Hit {
                ticket,
                author_email,
                score: *score,
                matched_in: Vec::new(),
                snippet: None,
            })
        })
        .collect())
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
    // The page's messages and file names in one statement (one round trip less for every
    // search); the ids' placeholders serve both halves.
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let marks = marks.join(", ");
    let (messages_visible, files_visible) = match audience {
        Audience::Customer => (" AND internal = 0", " AND COALESCE(v.internal, 0) = 0"),
        Audience::Staff => ("", ""),
    };
    let sql = format!(
        "SELECT CAST(0 AS BIGINT) AS kind, id, ticket_id, comment AS text, internal
         FROM conversations WHERE ticket_id IN ({marks}){messages_visible}
         UNION ALL
         SELECT CAST(1 AS BIGINT), a.id, a.ticket_id, a.filename, COALESCE(v.internal, 0)
         FROM attachments a LEFT JOIN conversations v ON v.id = a.conversation_id
         WHERE a.ticket_id IN ({marks}){files_visible}
         ORDER BY kind, id"
    );
    let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in &ids {
        statement = statement.bind(*id);
    }
    let rows = statement.fetch_all(&mut db.read().await?).await?;
    let mut messages: HashMap<i64, Vec<(String, bool)>> = HashMap::new();
    let mut files: HashMap<i64, Vec<(String, bool)>> = HashMap::new();
    for row in &rows {
        let into = if row.try_get::<i64, _>("kind")? == 0 {
            &mut messages
        } else {
            &mut files
        };
        into.entry(row.try_get("ticket_id")?)
            .or_default()
            .push((row.try_get("text")?, super::flag(row, "internal")?));
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
