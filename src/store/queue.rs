//! The agents' queue: every ticket, filtered and sorted, paged by keyset so that page 1,000 costs
//! what page 1 costs.

use sqlx::Row;

use super::sql::{Bind, Conditions, like_pattern};
use super::tickets::{TICKET_COLUMNS, TicketRow, ticket_from_row};
use super::{Db, StoreResult};
use crate::domain::ticket::fold_subject;

/// What the queue is ordered by; ties are broken by id in the same direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Created,
    Updated,
    Priority,
}

impl SortKey {
    fn column(self) -> &'static str {
        match self {
            Self::Created => "t.created_at",
            Self::Updated => "t.updated_at",
            Self::Priority => "t.priority",
        }
    }

    /// The sort value of a row, for the cursor that continues after it.
    pub fn value_of(self, ticket: &TicketRow) -> i64 {
        match self {
            Self::Created => ticket.created_at,
            Self::Updated => ticket.updated_at,
            Self::Priority => ticket.priority.code(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssigneeFilter {
    Unassigned,
    Person(i64),
}

#[derive(Clone, Debug)]
pub struct QueueFilter {
    pub statuses: Vec<i64>,
    pub priorities: Vec<i64>,
    pub category: Option<i64>,
    pub tag: Option<i64>,
    pub assignee: Option<AssigneeFilter>,
    pub author_email: Option<String>,
    pub created_after: Option<i64>,
    pub created_before: Option<i64>,
    pub updated_after: Option<i64>,
    pub updated_before: Option<i64>,
    pub text: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    /// Continue after the row with this (sort value, id).
    pub after: Option<(i64, i64)>,
    pub offset: i64,
    pub limit: i64,
}

/// A queue row: the ticket and its author's email.
pub struct QueueRow {
    pub ticket: TicketRow,
    pub author_email: String,
}

/// The filter's conditions, without its cursor.
fn conditions(filter: &QueueFilter, with_status: bool) -> Conditions {
    let mut c = Conditions::default();
    if with_status {
        c.and_in("t.status", &filter.statuses);
    }
    c.and_in("t.priority", &filter.priorities);
    if let Some(category) = filter.category {
        c.and("t.category_id = ?", [Bind::Int(category)]);
    }
    if let Some(tag) = filter.tag {
        c.and(
            "EXISTS (SELECT 1 FROM ticket_tags tt WHERE tt.ticket_id = t.id AND tt.tag_id = ?)",
            [Bind::Int(tag)],
        );
    }
    match filter.assignee {
        Some(AssigneeFilter::Unassigned) => c.and("t.assignee_id IS NULL", []),
        Some(AssigneeFilter::Person(id)) => c.and("t.assignee_id = ?", [Bind::Int(id)]),
        None => {}
    }
    if let Some(email) = &filter.author_email {
        c.and("u.email = ?", [Bind::Text(email.clone())]);
    }
    let ranges = [
        ("t.created_at >= ?", filter.created_after),
        ("t.created_at < ?", filter.created_before),
        ("t.updated_at >= ?", filter.updated_after),
        ("t.updated_at < ?", filter.updated_before),
    ];
    for (template, value) in ranges {
        if let Some(value) = value {
            c.and(template, [Bind::Int(value)]);
        }
    }
    if let Some(text) = &filter.text {
        let pattern = like_pattern(&fold_subject(text));
        c.and("t.subject_folded LIKE ? ESCAPE '\\'", [Bind::Text(pattern)]);
    }
    c
}

/// How many tickets match the filter (its cursor and paging aside), counting no further than
/// `cap`: the console's view counts cost the same at a million tickets (`cap + 1` means more).
pub async fn count_capped(db: &Db, filter: &QueueFilter, cap: i64) -> StoreResult<i64> {
    let c = conditions(filter, true);
    let next = c.next_placeholder();
    // The author is joined only when the filter names their email: every ticket has exactly
    // one author (a non-null foreign key), so the join cannot change the count, while with it
    // SQLite's planner started from `users` and read every ticket through each customer's
    // index entries (3.5 s for an empty Mine view at a million tickets; bench/README.md).
    let join = if filter.author_email.is_some() {
        "JOIN users u ON u.id = t.author_id"
    } else {
        ""
    };
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM tickets t {join} WHERE {} LIMIT ${next}) capped",
        c.sql()
    );
    let row = c
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .bind(cap.saturating_add(1))
        .fetch_one(&mut db.read().await?)
        .await?;
    Ok(row.try_get("n")?)
}

pub async fn list(db: &Db, filter: &QueueFilter) -> StoreResult<Vec<QueueRow>> {
    // Several statuses (the open views: Open and Processing) are read as one ordered branch per
    // status, merged: each branch walks the index of its status in the sort's order and stops
    // at the page's end. With `status IN (…)` in one statement SQLite's planner (its STAT4
    // samples saying the open tickets are few) read every open ticket through the status index
    // and sorted them: 135 ms a page with 200,000 open tickets (bench/README.md).
    // A status named twice would be a branch twice, each row listed twice.
    let mut statuses = filter.statuses.clone();
    statuses.sort_unstable();
    statuses.dedup();
    let branches = statuses.len() > 1;
    let mut c = conditions(filter, !branches);
    let column = filter.sort.column();
    let (direction, comparison) = if filter.descending {
        ("DESC", "<")
    } else {
        ("ASC", ">")
    };
    if let Some((value, id)) = filter.after {
        c.and(
            &format!("({column}, t.id) {comparison} (?, ?)"),
            [Bind::Int(value), Bind::Int(id)],
        );
    }
    let order = format!("ORDER BY {column} {direction}, t.id {direction}");
    // With branches the filter is applied inside each; the outer query only merges them.
    let (source, filter_sql) = if branches {
        let join = if filter.author_email.is_some() {
            "JOIN users u ON u.id = t.author_id"
        } else {
            ""
        };
        let shared = c.sql();
        let enough = c.value(Bind::Int(filter.limit.saturating_add(filter.offset)));
        let arms: Vec<String> = statuses
            .iter()
            .enumerate()
            .map(|(i, status)| {
                let status = c.value(Bind::Int(*status));
                format!(
                    "SELECT id FROM (SELECT t.id FROM tickets t {join}
                     WHERE t.status = {status} AND {shared} {order} LIMIT {enough}) AS b{i}"
                )
            })
            .collect();
        let source = format!(
            "({}) AS k JOIN tickets t ON t.id = k.id",
            arms.join(" UNION ALL ")
        );
        (source, String::new())
    } else {
        ("tickets t".to_owned(), format!("WHERE {}", c.sql()))
    };
    let next = c.next_placeholder();
    let sql = format!(
        "SELECT {TICKET_COLUMNS}, u.email AS author_email
         FROM {source}
         JOIN categories c ON c.id = t.category_id
         JOIN users u ON u.id = t.author_id
         {filter_sql}
         {order}
         LIMIT ${next} OFFSET ${}",
        next + 1
    );
    let rows = c
        .bind_to(sqlx::query(sqlx::AssertSqlSafe(sql)))
        .bind(filter.limit)
        .bind(filter.offset)
        .fetch_all(&mut db.read().await?)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(QueueRow {
                ticket: ticket_from_row(r)?,
                author_email: r.try_get("author_email")?,
            })
        })
        .collect()
}
