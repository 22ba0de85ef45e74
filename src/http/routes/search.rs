//! `agent/search/` and `support/search/`: tickets by what was written in them (the query
//! language is in `domain::search`, the index in `store::search`).

use axum::extract::{RawQuery, State};
use axum::response::Response;

use crate::app::AppState;
use crate::http::envelope::{ApiError, ok};
use crate::http::extract::{Caller, Staff};
use crate::http::inputs::search::{agent_search, cursor_text, customer_search};
use crate::http::schema::*;
use crate::http::views::{CustomerSearchItem, SearchItem};
use crate::store::search::{self, SearchPage};

/// The cursor after this page, when it is full.
fn next_cursor(page: &SearchPage, limit: i64) -> Option<String> {
    match page.hits.last() {
        Some(last) if i64::try_from(page.hits.len()).unwrap_or(i64::MAX) == limit => {
            Some(cursor_text(last.score, last.ticket.id))
        }
        _ => None,
    }
}

/// `GET agent/search/`: every ticket, notes included.
#[utoipa::path(
    get,
    path = "/agent/search",
    tag = "agent",
    operation_id = "agent_search",
    summary = "Search every ticket",
    description = "Words must all match (the last one as a prefix); \"exact phrase\"; -excluded; \
        #123 for ticket 123; from:part-of-an-email; status:open|processing|closed. Accents and \
        case are folded; CJK text is found by any substring of two or more characters. \
        Hits are ranked by relevance among the newest 1,000 matches.",
    params(("q" = String, Query, description = "The query"), ("status" = Option<String>, Query, description = "1, 2, 3 or a comma list"), ("category" = Option<i64>, Query), ("assignee" = Option<String>, Query, description = "A person id or none"), ("limit" = Option<i64>, Query, minimum = 1, description = "Default 20; above 50 counts as 50"), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, description = "Done", body = Envelope<SearchData<SearchItem>>), (status = 400, description = "The query cannot run", body = ErrorEnvelope))
)]
pub async fn agent(
    State(state): State<AppState>,
    Staff(_agent): Staff,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let request = agent_search(query.as_deref())?;
    let page = search::search(&state.db, &request).await?;
    Ok(ok(SearchData {
        next_cursor: next_cursor(&page, request.limit),
        tickets: page.hits.iter().map(SearchItem::new).collect(),
        total: page.total,
        total_exact: page.total_exact,
    }))
}

/// `GET support/search/`: the caller's own tickets; internal notes are never searched.
#[utoipa::path(
    get,
    path = "/support/search",
    tag = "customer",
    operation_id = "customer_search",
    summary = "Search the caller's own tickets",
    description = "The query language of agent search, over the caller's own tickets and what \
        the caller can see of them (never internal notes).",
    params(("q" = String, Query, description = "The query"), ("limit" = Option<i64>, Query, minimum = 1, description = "Default 20; above 50 counts as 50"), ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")),
    responses((status = 200, description = "Done", body = Envelope<SearchData<CustomerSearchItem>>), (status = 400, description = "The query cannot run", body = ErrorEnvelope))
)]
pub async fn customer(
    State(state): State<AppState>,
    Caller(person): Caller,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let request = customer_search(query.as_deref(), person.id)?;
    let page = search::search(&state.db, &request).await?;
    Ok(ok(SearchData {
        next_cursor: next_cursor(&page, request.limit),
        tickets: page.hits.iter().map(CustomerSearchItem::new).collect(),
        total: page.total,
        total_exact: page.total_exact,
    }))
}
