//! API keys: list (never a secret: the store has only hashes), issue (the key is the answer to
//! that POST, shown once), revoke.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{AdminFrame, AdminOnly, FormState, Outcome, PageId, Shown, done, frames};
use crate::app::AppState;
use crate::console::pages::{Frame, PageResult, when};
use crate::console::queue::Choice;
use crate::console::signin::check_csrf;
use crate::http::envelope::ApiError;
use crate::http::extract::FormBody;
use crate::http::inputs::admin::NAME_MAX_CHARS;
use crate::http::routes::admin::issue_key;
use crate::store::accounts;

const SECTION: &str = "/console/admin/keys";

pub struct KeyRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub scope: &'static str,
    pub created: String,
    pub revoked: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin/keys.html")]
struct KeysPage {
    frame: Frame,
    admin: AdminFrame,
    form: FormState,
    page_title: &'static str,
    rows: Vec<KeyRow>,
    scopes: Vec<Choice>,
    name_max: usize,
    shown: Option<Shown>,
}

fn scope_name(scope: &str) -> &'static str {
    if scope == "all" {
        "Every route (staff integrations)"
    } else {
        "Customer routes"
    }
}

async fn show(
    state: &AppState,
    admin: &AdminOnly,
    outcome: Outcome,
    shown: Option<Shown>,
) -> PageResult {
    let keys = accounts::list_api_keys(&state.db).await?;
    let (frame, admin_frame) = frames(state, admin, SECTION, &outcome).await?;
    let scope = outcome.form.value("new", "scope", "customer").to_owned();
    let mut rows: Vec<KeyRow> = keys
        .iter()
        .rev()
        .map(|k| KeyRow {
            id: k.id,
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scope: scope_name(k.scope.as_str()),
            created: when(k.created_at),
            revoked: k.revoked_at.map(when).unwrap_or_default(),
        })
        .collect();
    // Live keys first, each group newest first (the sort is stable).
    rows.sort_by_key(|r| !r.revoked.is_empty());
    let page = KeysPage {
        frame,
        admin: admin_frame,
        page_title: "API keys",
        rows,
        scopes: ["customer", "all"]
            .map(|v| Choice {
                selected: v == scope,
                value: v.to_owned(),
                label: scope_name(v).to_owned(),
            })
            .into(),
        name_max: NAME_MAX_CHARS,
        form: outcome.form,
        shown,
    };
    Ok((outcome.status, page).into_response())
}

/// `GET /console/admin/keys`.
pub async fn list(
    State(state): State<AppState>,
    admin: AdminOnly,
    RawQuery(query): RawQuery,
) -> PageResult {
    show(&state, &admin, Outcome::from_query(query.as_deref()), None).await
}

/// `POST /console/admin/keys`: name, scope. The answer shows the new key, that once.
pub async fn create(State(state): State<AppState>, admin: AdminOnly, body: FormBody) -> PageResult {
    check_csrf(&admin.0, &body)?;
    match issue_key(&state, &body).await {
        Ok(created) => {
            let shown = Shown {
                title: format!("The new key “{}”", created.name),
                value: created.apikey,
            };
            let mut outcome = Outcome::ok();
            outcome.status = StatusCode::CREATED;
            show(&state, &admin, outcome, Some(shown)).await
        }
        Err(err) => {
            let outcome = Outcome::refused(err, "new", &body, &["name", "scope"])?;
            show(&state, &admin, outcome, None).await
        }
    }
}

/// `POST /console/admin/keys/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    admin: AdminOnly,
    PageId(id): PageId,
    body: FormBody,
) -> PageResult {
    check_csrf(&admin.0, &body)?;
    if accounts::revoke_api_key(&state.db, id).await? {
        Ok(done(SECTION, "revoked"))
    } else {
        let gone = ApiError::detail(
            StatusCode::NOT_FOUND,
            "That key does not exist or was revoked already.",
        );
        let outcome = Outcome::refused(gone, "revoke", &body, &[])?;
        show(&state, &admin, outcome, None).await
    }
}
