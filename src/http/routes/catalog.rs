//! Endpoints 1 and 4: the active categories and tags.

use axum::extract::State;
use axum::response::Response;

use crate::app::AppState;
use crate::http::envelope::{ApiError, ok};
use crate::http::extract::OptionalCaller;
use crate::http::schema::{CategoryListData, TagListData};
use crate::http::views::{CategoryItem, TagItem};
use crate::store::catalog::{self, Catalog};

pub async fn categories(
    State(state): State<AppState>,
    _caller: OptionalCaller,
) -> Result<Response, ApiError> {
    let list = catalog::list_active(&state.db, Catalog::Categories).await?;
    Ok(ok(CategoryListData {
        category_list: list.iter().map(CategoryItem::new).collect(),
    }))
}

pub async fn tags(
    State(state): State<AppState>,
    _caller: OptionalCaller,
) -> Result<Response, ApiError> {
    let list = catalog::list_active(&state.db, Catalog::Tags).await?;
    Ok(ok(TagListData {
        ticket_tag_list: list.iter().map(TagItem::new).collect(),
    }))
}
