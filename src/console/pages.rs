//! What every page shares: the frame (navigation with the views and their counts, search, sign
//! out), the words for statuses and priorities, times, and the error page.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::assets::{URLS, Urls};
use super::session::Agent;
use crate::app::AppState;
use crate::domain::ticket::{Priority, Status};
use crate::http::envelope::ApiError;
use crate::store::queue::{self, AssigneeFilter, QueueFilter, SortKey};

/// Counts above this show as "1000+": counting further would cost more at a million tickets.
pub const COUNT_CAP: i64 = 1000;

/// The console's views.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Mine,
    Unassigned,
    Open,
    Closed,
}

impl View {
    pub const ALL: [Self; 4] = [Self::Mine, Self::Unassigned, Self::Open, Self::Closed];

    pub fn from_param(text: Option<&str>) -> Self {
        match text.map(str::trim) {
            Some("mine") => Self::Mine,
            Some("unassigned") => Self::Unassigned,
            Some("closed") => Self::Closed,
            _ => Self::Open,
        }
    }

    pub fn param(self) -> &'static str {
        match self {
            Self::Mine => "mine",
            Self::Unassigned => "unassigned",
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Mine => "Mine",
            Self::Unassigned => "Unassigned",
            Self::Open => "All open",
            Self::Closed => "Closed",
        }
    }

    /// The view's own filter: its statuses and assignee (the page's filters narrow it).
    pub fn base_filter(self, me: i64) -> QueueFilter {
        let open = vec![Status::Open.code(), Status::Processing.code()];
        let (statuses, assignee) = match self {
            Self::Mine => (open, Some(AssigneeFilter::Person(me))),
            Self::Unassigned => (open, Some(AssigneeFilter::Unassigned)),
            Self::Open => (open, None),
            Self::Closed => (vec![Status::Closed.code()], None),
        };
        QueueFilter {
            statuses,
            priorities: Vec::new(),
            category: None,
            tag: None,
            assignee,
            author_email: None,
            created_after: None,
            created_before: None,
            updated_after: None,
            updated_before: None,
            text: None,
            sort: SortKey::Updated,
            descending: true,
            after: None,
            offset: 0,
            limit: 50,
        }
    }
}

/// A view in the navigation.
pub struct NavView {
    pub param: &'static str,
    pub title: &'static str,
    pub count: String,
    pub current: bool,
}

/// What the frame of every signed-in page shows.
pub struct Frame {
    pub urls: &'static Urls,
    pub me: String,
    pub admin: bool,
    pub csrf: String,
    pub views: Vec<NavView>,
    pub search: String,
    /// The page's event stream (a ticket page's names its ticket: see `live`).
    pub live_url: String,
}

impl Frame {
    pub async fn new(
        state: &AppState,
        agent: &Agent,
        current: Option<View>,
        search: &str,
    ) -> Result<Self, ApiError> {
        let mut views = Vec::with_capacity(View::ALL.len());
        for view in View::ALL {
            let n = queue::count_capped(&state.db, &view.base_filter(agent.person.id), COUNT_CAP)
                .await?;
            views.push(NavView {
                param: view.param(),
                title: view.title(),
                count: if n > COUNT_CAP {
                    format!("{COUNT_CAP}+")
                } else {
                    n.to_string()
                },
                current: current == Some(view),
            });
        }
        Ok(Self {
            urls: &URLS,
            me: agent.person.email.clone(),
            admin: agent.person.role == crate::domain::people::Role::Admin,
            csrf: agent.csrf.clone(),
            views,
            search: search.to_owned(),
            live_url: "/console/live".to_owned(),
        })
    }
}

pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Open => "Open",
        Status::Processing => "Processing",
        Status::Closed => "Closed",
    }
}

pub fn priority_name(priority: Priority) -> &'static str {
    match priority {
        Priority::Low => "Low",
        Priority::Medium => "Medium",
        Priority::High => "High",
    }
}

/// A stored time (microseconds since 1970, UTC) as the pages show it: `2026-12-03 15:34`.
pub fn when(micros: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[derive(Template, WebTemplate)]
#[template(path = "console/error.html")]
struct ErrorPage {
    urls: &'static Urls,
    title: String,
    messages: Vec<String>,
}

/// An error as a page: field messages for what the client sent, nothing of the internals.
pub fn failure(err: ApiError) -> Response {
    let (status, title, messages) = match err {
        ApiError::Invalid(errors) => (
            StatusCode::BAD_REQUEST,
            "That did not work",
            errors
                .as_map()
                .iter()
                .flat_map(|(field, list)| list.iter().map(move |m| format!("{field}: {m}")))
                .collect(),
        ),
        ApiError::Field(field, message) => (
            StatusCode::BAD_REQUEST,
            "That did not work",
            vec![format!("{field}: {message}")],
        ),
        ApiError::Unauthorized { message, .. } => (
            StatusCode::UNAUTHORIZED,
            "Not signed in",
            vec![message.to_owned()],
        ),
        ApiError::Detail(status, message) => (status, "That did not work", vec![message]),
        ApiError::Unavailable(detail) => {
            tracing::warn!(%detail, "console: unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again in a moment",
                vec!["The desk is busy or its database is unreachable.".to_owned()],
            )
        }
        ApiError::Internal(err) => {
            tracing::error!(error = %err, "console: internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                vec!["The error was logged.".to_owned()],
            )
        }
    };
    let page = ErrorPage {
        urls: &URLS,
        title: title.to_owned(),
        messages,
    };
    (status, page).into_response()
}

/// The console's handlers answer a page or an error page.
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(err: ApiError) -> Self {
        Self(err)
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(err: crate::store::StoreError) -> Self {
        Self(err.into())
    }
}

impl From<crate::domain::fields::FieldErrors> for PageError {
    fn from(err: crate::domain::fields::FieldErrors) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        failure(self.0)
    }
}

pub type PageResult = Result<Response, PageError>;
