//! Bulk actions on the queue: the rows ticked on a page, assigned (to me, to someone, to
//! nobody), given a status, or given one more tag, by one form post (no JavaScript needed).
//!
//! Each ticket goes through the single-ticket update's own checks and write
//! (`staff_changes` then `staff::update`), in its own transaction: one ticket that cannot
//! change (gone, or the change is refused for it) does not hold back the others, every ticket
//! gets the same events, webhooks and mail as when changed alone, and the answer says, ticket
//! by ticket, what did not happen.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};

use super::pages::{Frame, PageResult};
use super::queue::{encode, kept_params};
use super::session::Agent;
use super::signin::check_csrf;
use crate::app::AppState;
use crate::domain::fields::Raw;
use crate::http::envelope::ApiError;
use crate::http::extract::FormBody;
use crate::http::inputs::staff::staff_changes;
use crate::store::{staff, tickets};

/// More than a page (50) is never ticked; this bounds one request's work.
pub const MAX_TICKETS: usize = 200;

/// Query parameters that belong to one answer of the queue, not to the view.
pub const TRANSIENT: [&str; 3] = ["select", "done", "cursor"];

/// What became of one ticket that was not changed.
pub struct Failure {
    pub ticket: String,
    pub message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/bulk.html")]
struct BulkPage {
    frame: Frame,
    changed: usize,
    failures: Vec<Failure>,
    back: String,
}

/// The action chosen on the form, as the single-ticket update's fields.
struct Action {
    status: Option<String>,
    assignee: Option<String>,
    tag: Option<i64>,
}

fn refused(message: &str) -> ApiError {
    ApiError::detail(StatusCode::BAD_REQUEST, message)
}

impl Action {
    fn parse(body: &FormBody, me: i64) -> Result<Self, ApiError> {
        let f = &body.fields;
        let assignee = f.text("assignee").map(|a| match a.trim() {
            "me" => me.to_string(),
            other => other.to_owned(),
        });
        let tag = match f.text("tag") {
            None => None,
            Some(t) => Some(
                t.trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or_else(|| ApiError::field("tag", "Choose a tag from the list."))?,
            ),
        };
        let action = Self {
            status: f.text("status"),
            assignee,
            tag,
        };
        if action.status.is_none() && action.assignee.is_none() && action.tag.is_none() {
            return Err(refused(
                "Choose what to do with the selected tickets: assign, status or tag.",
            ));
        }
        Ok(action)
    }

    /// The single-ticket update's form for this ticket; `None` when there is nothing to
    /// change (the tag is already there), so that the ticket is not touched.
    async fn form_for(
        &self,
        state: &AppState,
        ticket_id: i64,
    ) -> Result<Option<FormBody>, ApiError> {
        let mut form = FormBody::default();
        let mut any = self.status.is_some() || self.assignee.is_some();
        if let Some(status) = &self.status {
            form.fields
                .push("status".to_owned(), Raw::Text(status.clone()));
        }
        if let Some(assignee) = &self.assignee {
            form.fields
                .push("assignee".to_owned(), Raw::Text(assignee.clone()));
        }
        if let Some(tag) = self.tag {
            let mut tags = tickets::ticket_tag_ids(&state.db, ticket_id).await?;
            if !tags.contains(&tag) {
                tags.push(tag);
                any = true;
                for id in tags {
                    form.fields
                        .push("tags".to_owned(), Raw::Text(id.to_string()));
                }
            }
        }
        Ok(any.then_some(form))
    }
}

/// A refusal's words for the page; a failure of ours is logged and said to be.
fn words(err: ApiError) -> String {
    match err {
        ApiError::Invalid(errors) => errors
            .as_map()
            .iter()
            .flat_map(|(field, list)| list.iter().map(move |m| format!("{field}: {m}")))
            .collect::<Vec<_>>()
            .join(" "),
        ApiError::Field(field, message) => format!("{field}: {message}"),
        ApiError::Detail(_, message) => message,
        ApiError::Unauthorized { message, .. } => message.to_owned(),
        ApiError::Unavailable(detail) => {
            tracing::warn!(%detail, "console bulk: unavailable");
            "Not changed: the database was unreachable. Try again.".to_owned()
        }
        ApiError::Internal(err) => {
            tracing::error!(error = %err, "console bulk: internal error");
            "Not changed: something went wrong (the error was logged).".to_owned()
        }
    }
}

/// One ticket: found, checked and changed as the single-ticket update does.
async fn apply_one(
    state: &AppState,
    agent: &Agent,
    action: &Action,
    id: i64,
) -> Result<(), ApiError> {
    let ticket = tickets::find_ticket(&state.db, id)
        .await?
        .ok_or_else(|| refused("No such ticket."))?;
    let Some(form) = action.form_for(state, id).await? else {
        return Ok(());
    };
    let changes = staff_changes(&form, state, &ticket).await?;
    staff::update(&state.db, &ticket, agent.person.id, &changes).await?;
    Ok(())
}

/// `POST /console/bulk`: the ticked tickets (`ticket`, repeated), and the action.
pub async fn apply(State(state): State<AppState>, agent: Agent, body: FormBody) -> PageResult {
    check_csrf(&agent, &body)?;
    let view = kept_params(body.fields.text("view").as_deref(), &TRANSIENT);
    let action = Action::parse(&body, agent.person.id)?;
    let sent: Vec<String> = body
        .fields
        .all("ticket")
        .iter()
        .map(|raw| match raw {
            Raw::Text(s) | Raw::Json(serde_json::Value::String(s)) => s.trim().to_owned(),
            Raw::Json(other) => other.to_string(),
        })
        .filter(|s| !s.is_empty())
        .collect();
    if sent.is_empty() {
        return Err(refused("Select at least one ticket (the boxes in the first column).").into());
    }
    if sent.len() > MAX_TICKETS {
        return Err(refused(&format!("At most {MAX_TICKETS} tickets at a time.")).into());
    }
    let mut changed = 0;
    let mut failures = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for text in sent {
        let Some(id) = text.parse::<i64>().ok().filter(|id| *id > 0) else {
            failures.push(Failure {
                ticket: text,
                message: "Not a ticket number.".to_owned(),
            });
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        match apply_one(&state, &agent, &action, id).await {
            Ok(()) => changed += 1,
            Err(err) => failures.push(Failure {
                ticket: format!("#{id}"),
                message: words(err),
            }),
        }
    }
    let back = if view.is_empty() {
        "/console".to_owned()
    } else {
        format!("/console?{}", encode(&view))
    };
    if failures.is_empty() {
        let mut params = view;
        params.push(("done".to_owned(), changed.to_string()));
        return Ok(Redirect::to(&format!("/console?{}", encode(&params))).into_response());
    }
    let status = if changed == 0 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = BulkPage {
        frame: Frame::new(&state, &agent, None, "").await?,
        changed,
        failures,
        back,
    };
    Ok((status, page).into_response())
}
