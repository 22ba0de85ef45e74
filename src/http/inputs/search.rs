//! The search routes' query strings: `q` parsed by the query language (`domain::search`), the
//! filters and the keyset cursor.

use crate::domain::fields::{
    self, AllFields, BLANK, FieldErrors, Fields, REQUIRED, VALID_INTEGER, field,
};
use crate::domain::search;
use crate::domain::ticket::Status;
use crate::store::queue::AssigneeFilter;
use crate::store::search::SearchRequest;

const DEFAULT_LIMIT: i64 = 20;
const MAX_LIMIT: i64 = 50;

/// A cursor is the last hit's score and id: `3.25:42`.
pub fn cursor_text(score: f64, id: i64) -> String {
    format!("{score}:{id}")
}

fn parse_cursor(text: &str) -> Option<(f64, i64)> {
    let (score, id) = text.trim().rsplit_once(':')?;
    let score: f64 = score.parse().ok()?;
    score.is_finite().then_some(())?;
    Some((score, id.parse().ok()?))
}

/// `q` itself: required, not blank, free of NUL, and a query the language can run.
fn query(q: &Fields) -> Result<search::Query, String> {
    match q.get("q") {
        None => return Err(REQUIRED.to_owned()),
        Some(_) if q.text("q").is_none() => return Err(BLANK.to_owned()),
        Some(_) => {}
    }
    let text = fields::query_text(q.text("q"))?.ok_or_else(|| BLANK.to_owned())?;
    search::parse(&text)
}

fn limit(q: &Fields) -> Result<i64, &'static str> {
    match fields::query_integer(q.text("limit").as_deref()) {
        Ok(Some(limit)) if limit < 1 => Err("Ensure this value is greater than or equal to 1."),
        Ok(limit) => Ok(limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT)),
        Err(()) => Err(VALID_INTEGER),
    }
}

fn cursor(q: &Fields) -> Result<Option<(f64, i64)>, &'static str> {
    q.text("cursor")
        .map(|c| parse_cursor(&c).ok_or("Invalid cursor."))
        .transpose()
}

/// `GET agent/search/`: `q`, `status`, `category`, `assignee`, `limit`, `cursor`.
pub fn agent_search(query_string: Option<&str>) -> Result<SearchRequest, FieldErrors> {
    let q = Fields::from_query(query_string);
    let assignee = field(
        "assignee",
        match q.text("assignee") {
            None => Ok(None),
            Some(v) if v.trim().eq_ignore_ascii_case("none") => {
                Ok(Some(AssigneeFilter::Unassigned))
            }
            Some(v) => match fields::query_integer(Some(&v)) {
                Ok(Some(id)) => Ok(Some(AssigneeFilter::Person(id))),
                _ => Err("A valid integer or \"none\" is required."),
            },
        },
    );
    let (parsed, statuses, category, assignee, limit, after) = (
        field("q", query(&q)),
        field("status", fields::choice_list::<Status>(q.all("status"))),
        field(
            "category",
            fields::query_integer(q.text("category").as_deref()).map_err(|()| VALID_INTEGER),
        ),
        assignee,
        field("limit", limit(&q)),
        field("cursor", cursor(&q)),
    )
        .all()?;
    Ok(SearchRequest {
        query: parsed,
        customer: None,
        statuses: statuses.into_iter().map(Status::code).collect(),
        category,
        assignee,
        after,
        limit,
    })
}

/// `GET support/search/`: `q`, `limit`, `cursor`, over the caller's own tickets.
pub fn customer_search(
    query_string: Option<&str>,
    author_id: i64,
) -> Result<SearchRequest, FieldErrors> {
    let q = Fields::from_query(query_string);
    let (parsed, limit, after) = (
        field("q", query(&q)),
        field("limit", limit(&q)),
        field("cursor", cursor(&q)),
    )
        .all()?;
    Ok(SearchRequest {
        query: parsed,
        customer: Some(author_id),
        statuses: Vec::new(),
        category: None,
        assignee: None,
        after,
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_exactly() {
        let score = 0.1_f64 + 0.2;
        assert_eq!(parse_cursor(&cursor_text(score, 42)), Some((score, 42)));
        assert_eq!(parse_cursor(&cursor_text(-3.5e-7, 1)), Some((-3.5e-7, 1)));
        assert_eq!(parse_cursor("NaN:1"), None);
        assert_eq!(parse_cursor("1:x"), None);
    }

    #[test]
    fn q_is_required_and_reports_its_problem() {
        let err = |qs: &str| agent_search(Some(qs)).err().map(|e| e.as_map().clone());
        assert_eq!(
            err("").and_then(|m| m.get("q").cloned()),
            Some(vec![REQUIRED.to_owned()])
        );
        assert_eq!(
            err("q=%20").and_then(|m| m.get("q").cloned()),
            Some(vec![BLANK.to_owned()])
        );
        assert_eq!(
            err("q=a%00b").and_then(|m| m.get("q").cloned()),
            Some(vec![fields::NUL_CHARACTERS.to_owned()])
        );
        assert!(agent_search(Some("q=refund&limit=500")).is_ok_and(|r| r.limit == MAX_LIMIT));
    }
}
