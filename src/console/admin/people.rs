//! People: a keyset-paged list (filtered by role), create (email, role, password, as the admin
//! API does: there are no invitations), and a person's page to change role, deactivate or
//! reactivate, and set a new password. A deactivation, a role change and a new password end
//! the person's console sessions and tokens (`store::accounts::update_user`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;

use super::{AdminFrame, AdminOnly, FormState, Outcome, PageId, done, frames};
use crate::app::AppState;
use crate::console::pages::{Frame, PageResult, when};
use crate::console::queue::Choice;
use crate::console::signin::check_csrf;
use crate::domain::fields::Fields;
use crate::domain::people::Role;
use crate::http::envelope::ApiError;
use crate::http::extract::FormBody;
use crate::http::routes::admin::{add_person, change_person};
use crate::store::accounts::{self, UserSummary};

/// People per page.
const PAGE: i64 = 50;
const SECTION: &str = "/console/admin/people";

pub struct PersonRow {
    pub id: i64,
    pub email: String,
    pub role: &'static str,
    pub active: bool,
    pub created: String,
}

impl PersonRow {
    fn new(u: &UserSummary) -> Self {
        Self {
            id: u.person.id,
            email: u.person.email.clone(),
            role: role_name(u.person.role),
            active: u.active,
            created: when(u.created_at),
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Customer => "Customer",
        Role::Agent => "Agent",
        Role::Admin => "Administrator",
    }
}

fn role_choices(current: &str, with_any: bool) -> Vec<Choice> {
    let mut options: Vec<(&str, &str)> = Vec::new();
    if with_any {
        options.push(("", "Everyone"));
    }
    options.extend([Role::Agent, Role::Admin, Role::Customer].map(|r| {
        (
            r.as_str(),
            match r {
                Role::Customer => "Customers",
                Role::Agent => "Agents",
                Role::Admin => "Administrators",
            },
        )
    }));
    options
        .into_iter()
        .map(|(value, label)| Choice {
            selected: value == current,
            value: value.to_owned(),
            label: if with_any {
                label.to_owned()
            } else {
                role_name(value.parse().unwrap_or(Role::Customer)).to_owned()
            },
        })
        .collect()
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin/people.html")]
struct PeoplePage {
    frame: Frame,
    admin: AdminFrame,
    form: FormState,
    page_title: &'static str,
    rows: Vec<PersonRow>,
    filter: Vec<Choice>,
    roles: Vec<Choice>,
    next_page: String,
    first_page: String,
}

async fn show_list(
    state: &AppState,
    admin: &AdminOnly,
    query: Option<&str>,
    outcome: Outcome,
) -> PageResult {
    let q = Fields::from_query(query);
    let role_text = q.text("role").unwrap_or_default();
    // An unknown role or cursor is the first page of everyone, not an error: it comes from a
    // hand-edited URL, and the page shows what it did use.
    let role: Option<Role> = role_text.parse().ok();
    let after = q
        .text("after")
        .and_then(|a| a.trim().parse::<i64>().ok())
        .unwrap_or(i64::MIN);
    let found = accounts::users_page(&state.db, after, PAGE, role).await?;
    let role_param = role.map_or("", Role::as_str);
    let next_page = match found.last() {
        Some(last) if i64::try_from(found.len()).unwrap_or(i64::MAX) == PAGE => {
            let mut params = form_urlencoded::Serializer::new(String::new());
            if !role_param.is_empty() {
                params.append_pair("role", role_param);
            }
            params.append_pair("after", &last.person.id.to_string());
            format!("{SECTION}?{}", params.finish())
        }
        _ => String::new(),
    };
    let first_page = if after == i64::MIN {
        String::new()
    } else if role_param.is_empty() {
        SECTION.to_owned()
    } else {
        format!("{SECTION}?role={role_param}")
    };
    let (frame, admin_frame) = frames(state, admin, SECTION, &outcome).await?;
    let new_role = outcome.form.value("new", "role", "agent").to_owned();
    let page = PeoplePage {
        frame,
        admin: admin_frame,
        page_title: "People",
        rows: found.iter().map(PersonRow::new).collect(),
        filter: role_choices(role_param, true),
        roles: role_choices(&new_role, false),
        form: outcome.form,
        next_page,
        first_page,
    };
    Ok((outcome.status, page).into_response())
}

/// `GET /console/admin/people`: `role` narrows, `after` is the last id of the previous page.
pub async fn list(
    State(state): State<AppState>,
    admin: AdminOnly,
    RawQuery(query): RawQuery,
) -> PageResult {
    let outcome = Outcome::from_query(query.as_deref());
    show_list(&state, &admin, query.as_deref(), outcome).await
}

/// `POST /console/admin/people`: email, role, password.
pub async fn create(State(state): State<AppState>, admin: AdminOnly, body: FormBody) -> PageResult {
    check_csrf(&admin.0, &body)?;
    match add_person(&state, &body).await {
        Ok(id) => Ok(done(&format!("{SECTION}/{id}"), "created")),
        Err(err) => {
            let outcome = Outcome::refused(err, "new", &body, &["email", "role", "password"])?;
            show_list(&state, &admin, None, outcome).await
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin/person.html")]
struct PersonPage {
    frame: Frame,
    admin: AdminFrame,
    form: FormState,
    page_title: String,
    person: PersonRow,
    roles: Vec<Choice>,
    /// It is the signed-in administrator (who may not demote or deactivate themselves).
    me: bool,
}

async fn show_person(state: &AppState, admin: &AdminOnly, id: i64, outcome: Outcome) -> PageResult {
    let Some(person) = accounts::user_summary(&state.db, id).await? else {
        return Err(ApiError::not_found().into());
    };
    let (frame, admin_frame) = frames(state, admin, SECTION, &outcome).await?;
    let role = outcome
        .form
        .value("role", "role", person.person.role.as_str())
        .to_owned();
    let page = PersonPage {
        frame,
        admin: admin_frame,
        page_title: person.person.email.clone(),
        roles: role_choices(&role, false),
        me: person.person.id == admin.0.person.id,
        person: PersonRow::new(&person),
        form: outcome.form,
    };
    Ok((outcome.status, page).into_response())
}

/// `GET /console/admin/people/{id}`.
pub async fn person(
    State(state): State<AppState>,
    admin: AdminOnly,
    PageId(id): PageId,
    RawQuery(query): RawQuery,
) -> PageResult {
    show_person(&state, &admin, id, Outcome::from_query(query.as_deref())).await
}

/// `POST /console/admin/people/{id}`: the role, active or password form (one field each),
/// as the admin API's update takes them.
pub async fn update(
    State(state): State<AppState>,
    admin: AdminOnly,
    PageId(id): PageId,
    body: FormBody,
) -> PageResult {
    check_csrf(&admin.0, &body)?;
    let (form, what) = if body.fields.get("password").is_some() {
        ("password", "password")
    } else if body.fields.get("role").is_some() {
        ("role", "role")
    } else {
        match body.fields.text("active").as_deref() {
            Some("false") => ("active", "person-off"),
            Some("true") => ("active", "reactivated"),
            _ => ("active", "saved"),
        }
    };
    match change_person(&state, &admin.0.person, id, &body).await {
        Ok(()) => Ok(done(&format!("{SECTION}/{id}"), what)),
        Err(err) => {
            let outcome = Outcome::refused(err, form, &body, &[form])?;
            show_person(&state, &admin, id, outcome).await
        }
    }
}
