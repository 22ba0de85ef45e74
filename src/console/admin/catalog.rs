//! Categories and tags: list, create, rename or re-describe, deactivate and reactivate (the
//! admin API has no delete: tickets keep the entries they were filed under).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;

use super::{AdminFrame, AdminOnly, FormState, Outcome, PageId, done, frames};
use crate::app::AppState;
use crate::console::pages::{Frame, PageResult};
use crate::console::signin::check_csrf;
use crate::http::extract::FormBody;
use crate::http::inputs::admin::{DETAIL_MAX_CHARS, NAME_MAX_CHARS, field_names};
use crate::http::routes::admin::{add_entry, change_entry};
use crate::store::catalog::{self, Catalog};

pub struct Entry {
    pub id: i64,
    /// The key of this row's form in a refused [`FormState`].
    pub key: String,
    pub name: String,
    pub detail: String,
    pub active: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin/catalog.html")]
struct CatalogPage {
    frame: Frame,
    admin: AdminFrame,
    form: FormState,
    page_title: &'static str,
    noun: &'static str,
    base: &'static str,
    name_field: &'static str,
    detail_field: &'static str,
    detail_label: &'static str,
    name_max: usize,
    detail_max: usize,
    rows: Vec<Entry>,
}

fn base(which: Catalog) -> &'static str {
    match which {
        Catalog::Categories => "/console/admin/categories",
        Catalog::Tags => "/console/admin/tags",
    }
}

async fn show(state: &AppState, admin: &AdminOnly, which: Catalog, outcome: Outcome) -> PageResult {
    let entries = catalog::list(&state.db, which).await?;
    let (frame, admin_frame) = frames(state, admin, base(which), &outcome).await?;
    let (name_field, detail_field) = field_names(which);
    let (page_title, noun, detail_label) = match which {
        Catalog::Categories => ("Categories", "category", "Description"),
        Catalog::Tags => ("Tags", "tag", "Keyword"),
    };
    let page = CatalogPage {
        frame,
        admin: admin_frame,
        form: outcome.form,
        page_title,
        noun,
        base: base(which),
        name_field,
        detail_field,
        detail_label,
        name_max: NAME_MAX_CHARS,
        detail_max: DETAIL_MAX_CHARS,
        rows: entries
            .into_iter()
            .map(|e| Entry {
                key: format!("row-{}", e.id),
                id: e.id,
                name: e.name,
                detail: e.detail,
                active: e.active,
            })
            .collect(),
    };
    Ok((outcome.status, page).into_response())
}

async fn list(
    state: AppState,
    admin: AdminOnly,
    which: Catalog,
    query: Option<String>,
) -> PageResult {
    show(&state, &admin, which, Outcome::from_query(query.as_deref())).await
}

async fn create(state: AppState, admin: AdminOnly, which: Catalog, body: FormBody) -> PageResult {
    check_csrf(&admin.0, &body)?;
    match add_entry(&state, which, &body).await {
        Ok(_) => Ok(done(base(which), "created")),
        Err(err) => {
            let (name, detail) = field_names(which);
            let outcome = Outcome::refused(err, "new", &body, &[name, detail])?;
            show(&state, &admin, which, outcome).await
        }
    }
}

async fn update(
    state: AppState,
    admin: AdminOnly,
    which: Catalog,
    id: i64,
    body: FormBody,
) -> PageResult {
    check_csrf(&admin.0, &body)?;
    match change_entry(&state, which, id, &body).await {
        Ok(entry) => {
            let what = match body.fields.text("active").as_deref() {
                Some("false") => "deactivated",
                Some("true") if entry.active => "reactivated",
                _ => "saved",
            };
            Ok(done(base(which), what))
        }
        Err(err) => {
            let (name, detail) = field_names(which);
            let key = format!("row-{id}");
            let outcome = Outcome::refused(err, &key, &body, &[name, detail])?;
            show(&state, &admin, which, outcome).await
        }
    }
}

/// `GET /console/admin/categories`.
pub async fn categories(
    State(state): State<AppState>,
    admin: AdminOnly,
    RawQuery(query): RawQuery,
) -> PageResult {
    list(state, admin, Catalog::Categories, query).await
}

/// `POST /console/admin/categories`.
pub async fn create_category(
    State(state): State<AppState>,
    admin: AdminOnly,
    body: FormBody,
) -> PageResult {
    create(state, admin, Catalog::Categories, body).await
}

/// `POST /console/admin/categories/{id}`: rename, re-describe, deactivate or reactivate.
pub async fn update_category(
    State(state): State<AppState>,
    admin: AdminOnly,
    PageId(id): PageId,
    body: FormBody,
) -> PageResult {
    update(state, admin, Catalog::Categories, id, body).await
}

/// `GET /console/admin/tags`.
pub async fn tags(
    State(state): State<AppState>,
    admin: AdminOnly,
    RawQuery(query): RawQuery,
) -> PageResult {
    list(state, admin, Catalog::Tags, query).await
}

/// `POST /console/admin/tags`.
pub async fn create_tag(
    State(state): State<AppState>,
    admin: AdminOnly,
    body: FormBody,
) -> PageResult {
    create(state, admin, Catalog::Tags, body).await
}

/// `POST /console/admin/tags/{id}`.
pub async fn update_tag(
    State(state): State<AppState>,
    admin: AdminOnly,
    PageId(id): PageId,
    body: FormBody,
) -> PageResult {
    update(state, admin, Catalog::Tags, id, body).await
}
