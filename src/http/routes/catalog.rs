//! Endpoints 1 and 4: the active categories and tags.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::http::envelope::{ApiError, ok};
use crate::http::extract::OptionalCaller;
use crate::http::views;
use crate::store::catalog::{self, Catalog};

pub async fn categories(
    State(state): State<AppState>,
    _caller: OptionalCaller,
) -> Result<Response, ApiError> {
    let list = catalog::list_active(&state.db, Catalog::Categories).await?;
    let items: Vec<Value> = list.iter().map(views::category).collect();
    Ok(ok(json!({"CategoryList": items})))
}

pub async fn tags(
    State(state): State<AppState>,
    _caller: OptionalCaller,
) -> Result<Response, ApiError> {
    let list = catalog::list_active(&state.db, Catalog::Tags).await?;
    let items: Vec<Value> = list.iter().map(views::tag).collect();
    Ok(ok(json!({"TicketTagList": items})))
}
