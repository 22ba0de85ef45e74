//! The administrators' pages under `/console/admin/`: categories, tags, people, API keys,
//! settings and webhooks. Each action calls the admin JSON API's own function
//! (`http::routes::admin`, `http::routes::webhooks`), so a rule lives in one place. Forms post
//! and redirect; a refused form is shown again with each message next to its field and what
//! was typed kept (never a password). A secret (an API key, a webhook's signing secret) is the
//! answer to the POST that made it, shown that once: it is never stored in clear, so a redirect
//! would have nowhere to fetch it from.

pub mod catalog;
pub mod keys;
pub mod people;
pub mod settings;
pub mod webhooks;

use std::collections::{BTreeMap, HashMap};

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};

use super::pages::{Frame, PageError, failure};
use super::session::Agent;
use crate::app::AppState;
use crate::domain::fields::Fields;
use crate::domain::people::Role;
use crate::http::envelope::ApiError;
use crate::http::extract::FormBody;

/// Why an agent is shown the 403 page.
pub const ADMINS_ONLY: &str =
    "These pages are for administrators. Ask one of your desk's administrators for the change.";

/// A signed-in administrator; an agent gets a 403 page, anyone else the sign-in page.
pub struct AdminOnly(pub Agent);

impl FromRequestParts<AppState> for AdminOnly {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let agent = Agent::from_request_parts(parts, state).await?;
        if agent.person.role != Role::Admin {
            return Err(failure(ApiError::detail(
                StatusCode::FORBIDDEN,
                ADMINS_ONLY,
            )));
        }
        Ok(Self(agent))
    }
}

/// An id in the path; anything else is the 404 page (not the API's JSON).
pub struct PageId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PageId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        crate::http::path::Id::from_request_parts(parts, state)
            .await
            .map(|crate::http::path::Id(id)| Self(id))
            .map_err(failure)
    }
}

/// The two ids of `…/{id}/deliveries/{delivery_id}/…`, or the 404 page.
pub struct PageIds(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PageIds {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        crate::http::routes::webhooks::TwoIds::from_request_parts(parts, state)
            .await
            .map(|crate::http::routes::webhooks::TwoIds(a, b)| Self(a, b))
            .map_err(failure)
    }
}

/// A section in the admin pages' own navigation.
pub struct Section {
    pub href: &'static str,
    pub title: &'static str,
    pub current: bool,
}

const SECTIONS: [(&str, &str); 6] = [
    ("/console/admin/people", "People"),
    ("/console/admin/categories", "Categories"),
    ("/console/admin/tags", "Tags"),
    ("/console/admin/keys", "API keys"),
    ("/console/admin/webhooks", "Webhooks"),
    ("/console/admin/settings", "Settings"),
];

/// What the admin layout shows around a page (inside the console's frame): the sections, and
/// the outcome of the last action (a notice after a redirect, or an alert for a refused form).
pub struct AdminFrame {
    pub sections: Vec<Section>,
    pub notice: String,
    pub alert: String,
}

/// The console's frame and the admin layout's, for the section at `current`.
pub async fn frames(
    state: &AppState,
    admin: &AdminOnly,
    current: &str,
    outcome: &Outcome,
) -> Result<(Frame, AdminFrame), ApiError> {
    let frame = Frame::new(state, &admin.0, None, "").await?;
    let admin = AdminFrame {
        sections: SECTIONS
            .iter()
            .map(|&(href, title)| Section {
                href,
                title,
                current: href == current,
            })
            .collect(),
        notice: outcome.notice.clone(),
        alert: outcome.alert.clone(),
    };
    Ok((frame, admin))
}

/// A refused form, shown again: which form it was, what was typed, the messages per field.
#[derive(Default)]
pub struct FormState {
    pub form: String,
    pub values: HashMap<String, String>,
    pub errors: BTreeMap<String, Vec<String>>,
}

impl FormState {
    /// What was typed into `field` of `form` if that form was refused, else `default`.
    pub fn value<'a>(&'a self, form: &str, field: &str, default: &'a str) -> &'a str {
        if self.form == form {
            self.values.get(field).map_or(default, String::as_str)
        } else {
            default
        }
    }

    /// The messages for `field` of `form` (empty when there are none).
    pub fn error(&self, form: &str, field: &str) -> String {
        if self.form != form {
            return String::new();
        }
        self.errors
            .get(field)
            .map(|list| list.join(" "))
            .unwrap_or_default()
    }
}

/// How a page is shown: its status, a refused form, a notice or alert.
pub struct Outcome {
    pub status: StatusCode,
    pub form: FormState,
    pub notice: String,
    pub alert: String,
}

/// What a redirect's `done` names; a fixed list, so the page never echoes text from the URL.
const NOTICES: [(&str, &str); 13] = [
    ("created", "Created."),
    ("saved", "Saved."),
    ("deactivated", "Deactivated."),
    ("reactivated", "Reactivated."),
    ("role", "Role changed. Their sessions were ended."),
    (
        "password",
        "Password set. Their sessions were ended; tell them the new one in person.",
    ),
    ("person-off", "Deactivated. Their sessions were ended."),
    ("revoked", "Revoked. Sessions signed in with it were ended."),
    ("deleted", "Deleted."),
    ("enabled", "Enabled; its pending deliveries are due now."),
    ("disabled", "Disabled."),
    ("redelivered", "Queued to be sent again."),
    (
        "settings",
        "Settings saved. Every process uses them within seconds.",
    ),
];

impl Outcome {
    /// A page as a GET shows it, with the notice its `done` parameter names.
    pub fn from_query(query: Option<&str>) -> Self {
        let done = Fields::from_query(query).text("done").unwrap_or_default();
        Self {
            status: StatusCode::OK,
            form: FormState::default(),
            notice: NOTICES
                .iter()
                .find(|(code, _)| *code == done)
                .map(|(_, text)| (*text).to_owned())
                .unwrap_or_default(),
            alert: String::new(),
        }
    }

    pub fn ok() -> Self {
        Self::from_query(None)
    }

    /// A refused action, shown on the page: field messages under the fields of `form` named in
    /// `shown`, anything else as the page's alert. A server-side failure stays the error page.
    pub fn refused(
        err: ApiError,
        form: &str,
        body: &FormBody,
        shown: &[&str],
    ) -> Result<Self, PageError> {
        let (status, errors) = match err {
            ApiError::Invalid(errors) => (StatusCode::BAD_REQUEST, errors.as_map().clone()),
            ApiError::Field(field, message) => (
                StatusCode::BAD_REQUEST,
                BTreeMap::from([(field.to_owned(), vec![message])]),
            ),
            ApiError::Detail(status, message) if status.is_client_error() => {
                // The API's bare "Not found." says too little on a page.
                let message = if status == StatusCode::NOT_FOUND && message == "Not found." {
                    "It no longer exists (someone may have deleted it). Reload the page.".to_owned()
                } else {
                    message
                };
                (status, BTreeMap::from([(String::new(), vec![message])]))
            }
            other => return Err(PageError(other)),
        };
        let mut alert = Vec::new();
        let mut kept = BTreeMap::new();
        for (field, messages) in errors {
            if shown.contains(&field.as_str()) {
                kept.insert(field, messages);
            } else if field.is_empty() {
                alert.extend(messages);
            } else {
                alert.extend(messages.into_iter().map(|m| format!("{field}: {m}")));
            }
        }
        let values = shown
            .iter()
            // A password is never sent back to the browser.
            .filter(|name| !name.contains("password"))
            .filter_map(|name| body.fields.text(name).map(|v| ((*name).to_owned(), v)))
            .collect();
        Ok(Self {
            status,
            form: FormState {
                form: form.to_owned(),
                values,
                errors: kept,
            },
            notice: String::new(),
            alert: alert.join(" "),
        })
    }
}

/// After a successful action: back to `path`, naming what was done.
pub fn done(path: &str, what: &str) -> Response {
    Redirect::to(&format!("{path}?done={what}")).into_response()
}

/// A secret shown once, on the answer to the POST that made it.
pub struct Shown {
    pub title: String,
    pub value: String,
}

/// `GET /console/admin`: the first section.
pub async fn index(_admin: AdminOnly) -> Response {
    Redirect::to(SECTIONS[0].0).into_response()
}
