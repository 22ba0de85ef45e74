//! Endpoints 1 and 4: the active categories and tags.

use axum::extract::State;
use axum::response::Response;

use crate::app::AppState;
use crate::http::envelope::{ApiError, ok};
use crate::http::extract::OptionalCaller;
use crate::http::schema::*;
use crate::http::schema::{CategoryListData, TagListData};
use crate::http::views::{CategoryItem, TagItem};
use crate::store::catalog::Catalog;

#[utoipa::path(
    get,
    path = "/support/get/category-list",
    tag = "customer",
    operation_id = "category_list",
    summary = "The active categories",
    security(("apikey" = [], "bearer" = []), ("apikey" = [])),
    responses((status = 200, description = "Done", body = Envelope<CategoryListData>))
)]
pub async fn categories(
    State(state): State<AppState>,
    _caller: OptionalCaller,
) -> Result<Response, ApiError> {
    let list = state.db.active_catalog(Catalog::Categories).await?;
    Ok(ok(CategoryListData {
        category_list: list.iter().map(CategoryItem::new).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/support/get/ticket/tags",
    tag = "customer",
    operation_id = "tag_list",
    summary = "The active tags",
    security(("apikey" = [], "bearer" = []), ("apikey" = [])),
    responses((status = 200, description = "Done", body = Envelope<TagListData>))
)]
pub async fn tags(
    State(state): State<AppState>,
    _caller: OptionalCaller,
) -> Result<Response, ApiError> {
    let list = state.db.active_catalog(Catalog::Tags).await?;
    Ok(ok(TagListData {
        ticket_tag_list: list.iter().map(TagItem::new).collect(),
    }))
}
