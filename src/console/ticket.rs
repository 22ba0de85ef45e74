//! The ticket page and its forms: reply, internal note, changes (status, priority, category,
//! assignee, tags), assign to me. Each form posts and redirects (no JavaScript needed), and
//! each action is the agent API's own: the same input parsing and the same store writes.

use std::collections::{HashMap, HashSet};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::pages::{Frame, PageResult, View, priority_name, status_name, when};
use super::queue::{Choice, Row, encode, kept_params, view_filter};
use super::session::Agent;
use super::signin::check_csrf;
use crate::app::AppState;
use crate::domain::catalog::Catalog;
use crate::domain::fields::Raw;
use crate::domain::ticket::{Priority, Status};
use crate::http::envelope::ApiError;
use crate::http::extract::FormBody;
use crate::http::inputs::staff::{AgentMessage, staff_changes};
use crate::http::path::Id;
use crate::http::uploads::put_uploads;
use crate::store::tickets::{self, AttachmentRow, HistoryFilter, TicketRow};
use crate::store::{events, queue, staff};

/// One message of the conversation.
pub struct Message {
    pub author: String,
    pub when: String,
    pub text: String,
    /// `customer`, `agent` or `note`.
    pub kind: &'static str,
    pub attachments: Vec<File>,
}

pub struct File {
    pub id: i64,
    pub name: String,
    pub size: String,
}

pub struct Event {
    pub when: String,
    pub actor: String,
    pub what: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/ticket.html")]
struct TicketPage {
    frame: Frame,
    id: i64,
    subject: String,
    customer: String,
    created: String,
    status: &'static str,
    status_class: &'static str,
    priority: &'static str,
    assignee: String,
    messages: Vec<Message>,
    events: Vec<Event>,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    categories: Vec<Choice>,
    assignees: Vec<Choice>,
    /// The ticket's tags (each with a remove button) and the active ones it could get.
    tags: Vec<Choice>,
    addable: Vec<Choice>,
    tag_names: Vec<String>,
    others: Vec<Row>,
    /// The queue view this ticket was opened from (for "Send and next" and the way back).
    view: String,
    back: String,
    /// Who else is here (HTML, names escaped: `presence::line`).
    presence: String,
}

fn size_text(bytes: i64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

fn files_of(attachments: &[AttachmentRow], conversation: Option<i64>) -> Vec<File> {
    attachments
        .iter()
        .filter(|a| a.conversation_id == conversation)
        .map(|a| File {
            id: a.id,
            name: a.filename.clone(),
            size: size_text(a.size),
        })
        .collect()
}

/// An event of the trail in words.
fn describe(kind: &str, from: Option<&str>, to: Option<&str>, names: &Names) -> String {
    let status = |v: Option<&str>| {
        v.and_then(|v| v.parse::<i64>().ok())
            .and_then(|c| Status::try_from(c).ok())
            .map_or("?", status_name)
    };
    let priority = |v: Option<&str>| {
        v.and_then(|v| v.parse::<i64>().ok())
            .and_then(|c| Priority::try_from(c).ok())
            .map_or("?", priority_name)
    };
    let person = |v: Option<&str>| match v {
        None | Some("") => "nobody".to_owned(),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .and_then(|id| names.staff.get(&id).cloned())
            .unwrap_or_else(|| format!("#{v}")),
    };
    let category = |v: Option<&str>| {
        v.and_then(|v| v.parse::<i64>().ok())
            .and_then(|id| names.categories.get(&id).cloned())
            .unwrap_or_else(|| format!("#{}", v.unwrap_or("?")))
    };
    match kind {
        "created" => "opened the ticket".to_owned(),
        "reply" => "replied".to_owned(),
        "note" => "added an internal note".to_owned(),
        "comment" => "wrote".to_owned(),
        "status" => format!("changed status from {} to {}", status(from), status(to)),
        "priority" => format!(
            "changed priority from {} to {}",
            priority(from),
            priority(to)
        ),
        "category" => format!(
            "changed category from {} to {}",
            category(from),
            category(to)
        ),
        "assignee" => format!("assigned to {}", person(to)),
        "tags" => "changed the tags".to_owned(),
        other => other.replace('_', " "),
    }
}

struct Names {
    staff: HashMap<i64, String>,
    categories: HashMap<i64, String>,
}

async fn ticket_or_404(state: &AppState, id: i64) -> Result<TicketRow, ApiError> {
    tickets::find_ticket(&state.db, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// `GET /console/tickets/{id}`.
pub async fn page(
    State(state): State<AppState>,
    agent: Agent,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> PageResult {
    let (detail, _) = tickets::ticket_detail(&state.db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let ticket = &detail.ticket;
    let conversations = staff::conversations(&state.db, id).await?;
    let attachments = staff::attachments(&state.db, id).await?;
    let trail = events::for_ticket(&state.db, id).await?;
    let staff_list = staff::assignable(&state.db).await?;
    let categories = state.db.active_catalog(Catalog::Categories).await?;
    let all_tags = crate::store::catalog::list(&state.db, Catalog::Tags).await?;
    let names = Names {
        staff: staff_list.iter().cloned().collect(),
        categories: categories
            .iter()
            .map(|c| (c.id, c.name.clone()))
            .chain(std::iter::once((
                ticket.category_id,
                ticket.category_title.clone(),
            )))
            .collect(),
    };
    let mut messages = vec![Message {
        author: detail.author_email.clone(),
        when: when(ticket.created_at),
        text: ticket.comment.clone(),
        kind: "customer",
        attachments: files_of(&attachments, None),
    }];
    messages.extend(conversations.iter().map(|c| Message {
        author: c.author_email.clone(),
        when: when(c.created_at),
        text: c.comment.clone(),
        kind: if c.internal {
            "note"
        } else if c.author_email == detail.author_email {
            "customer"
        } else {
            "agent"
        },
        attachments: files_of(&attachments, Some(c.id)),
    }));
    let history = tickets::history(
        &state.db,
        ticket.author_id,
        &HistoryFilter {
            limit: 11,
            ..HistoryFilter::default()
        },
    )
    .await?;
    let others = history
        .tickets
        .iter()
        .filter(|t| t.id != id)
        .take(10)
        .map(|t| Row::new(t, &detail.author_email, &names.staff))
        .collect();
    let view_params = kept_params(query.as_deref(), &[]);
    let view = encode(&view_params);
    let on_ticket: HashSet<i64> = detail.tags.iter().copied().collect();
    let current_status = ticket.status.code().to_string();
    let current_priority = ticket.priority.code().to_string();
    let current_category = ticket.category_id.to_string();
    let current_assignee = ticket
        .assignee_id
        .map_or_else(|| "none".to_owned(), |a| a.to_string());
    let mut assignee_options = vec![("none".to_owned(), "Nobody".to_owned())];
    assignee_options.extend(staff_list.iter().map(|(i, e)| (i.to_string(), e.clone())));
    let option = |value: String, label: String, selected: bool| Choice {
        value,
        label,
        selected,
    };
    let mut frame = Frame::new(&state, &agent, None, "").await?;
    frame.live_url = format!("/console/live?ticket={id}");
    let page = TicketPage {
        presence: super::presence::line(&state.presence.others(id, agent.person.id)),
        frame,
        id,
        subject: ticket.subject.clone(),
        customer: detail.author_email.clone(),
        created: when(ticket.created_at),
        status: status_name(ticket.status),
        status_class: match ticket.status {
            Status::Open => "open",
            Status::Processing => "processing",
            Status::Closed => "closed",
        },
        priority: priority_name(ticket.priority),
        assignee: ticket.assignee_id.map_or_else(
            || "Nobody".to_owned(),
            |a| {
                names
                    .staff
                    .get(&a)
                    .cloned()
                    .unwrap_or_else(|| format!("#{a}"))
            },
        ),
        messages,
        events: trail
            .iter()
            .map(|e| Event {
                when: when(e.created_at),
                actor: e.actor.clone(),
                what: describe(&e.kind, e.from.as_deref(), e.to.as_deref(), &names),
            })
            .collect(),
        statuses: [Status::Open, Status::Processing, Status::Closed]
            .map(|s| {
                let v = s.code().to_string();
                let selected = v == current_status;
                option(v, status_name(s).to_owned(), selected)
            })
            .into(),
        priorities: [Priority::High, Priority::Medium, Priority::Low]
            .map(|p| {
                let v = p.code().to_string();
                let selected = v == current_priority;
                option(v, priority_name(p).to_owned(), selected)
            })
            .into(),
        categories: names
            .categories
            .iter()
            .map(|(cid, name)| {
                let v = cid.to_string();
                let selected = v == current_category;
                option(v, name.clone(), selected)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect(),
        assignees: assignee_options
            .into_iter()
            .map(|(v, l)| {
                let selected = v == current_assignee;
                option(v, l, selected)
            })
            .collect(),
        tags: all_tags
            .iter()
            .filter(|t| on_ticket.contains(&t.id))
            .map(|t| option(t.id.to_string(), t.name.clone(), true))
            .collect(),
        addable: all_tags
            .iter()
            .filter(|t| t.active && !on_ticket.contains(&t.id))
            .map(|t| option(t.id.to_string(), t.name.clone(), false))
            .collect(),
        tag_names: all_tags
            .iter()
            .filter(|t| on_ticket.contains(&t.id))
            .map(|t| t.name.clone())
            .collect(),
        others,
        back: if view.is_empty() {
            "/console".to_owned()
        } else {
            format!("/console?{view}")
        },
        view,
    };
    let mut page = page;
    page.categories.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(page.into_response())
}

/// Back to the ticket (keeping the view it was opened from).
fn to_ticket(id: i64, view: &str) -> Response {
    let url = if view.is_empty() {
        format!("/console/tickets/{id}")
    } else {
        format!("/console/tickets/{id}?{view}")
    };
    Redirect::to(&url).into_response()
}

/// The view the form came from (a hidden field holding its query string).
fn view_of(body: &FormBody) -> String {
    let text = body.fields.text("view").unwrap_or_default();
    encode(&kept_params(Some(&text), &["cursor"]))
}

/// The ticket after `ticket` in the view, or the view itself when it was the last.
async fn next_in_view(
    state: &AppState,
    agent: &Agent,
    ticket: &TicketRow,
    view: &str,
) -> PageResult {
    let q = crate::domain::fields::Fields::from_query(Some(view));
    let which = View::from_param(q.text("view").as_deref());
    let mut filter = view_filter(Some(view), which, agent.person.id)?;
    // The ticket as it is now: the reply may have changed its sort value.
    let now = ticket_or_404(state, ticket.id).await?;
    filter.after = Some((filter.sort.value_of(&now), now.id));
    filter.offset = 0;
    filter.limit = 1;
    let next = queue::list(&state.db, &filter).await?;
    Ok(match next.first() {
        Some(row) => to_ticket(row.ticket.id, view),
        None if view.is_empty() => Redirect::to("/console").into_response(),
        None => Redirect::to(&format!("/console?{view}")).into_response(),
    })
}

async fn message(
    state: AppState,
    agent: Agent,
    id: i64,
    body: FormBody,
    internal: bool,
) -> PageResult {
    check_csrf(&agent, &body)?;
    let ticket = ticket_or_404(&state, id).await?;
    let AgentMessage { comment } = AgentMessage::parse(&body)?;
    let attachments = put_uploads(&state, body.files).await?;
    staff::add_message(
        &state.db,
        &ticket,
        &agent.person,
        &comment,
        attachments.list(),
        internal,
    )
    .await?;
    attachments.keep();
    let view = body
        .fields
        .text("view")
        .map(|v| encode(&kept_params(Some(&v), &["cursor"])))
        .unwrap_or_default();
    if body.fields.text("next").is_some() {
        return next_in_view(&state, &agent, &ticket, &view).await;
    }
    Ok(to_ticket(id, &view))
}

/// `POST /console/tickets/{id}/reply`: the customer sees it ("Send and next" moves on).
pub async fn reply(
    State(state): State<AppState>,
    agent: Agent,
    Id(id): Id,
    body: FormBody,
) -> PageResult {
    message(state, agent, id, body, false).await
}

/// `POST /console/tickets/{id}/note`: staff only.
pub async fn note(
    State(state): State<AppState>,
    agent: Agent,
    Id(id): Id,
    body: FormBody,
) -> PageResult {
    message(state, agent, id, body, true).await
}

/// `POST /console/tickets/{id}/update`: the side panel's fields, parsed as the agent API's
/// update parses them. `assign=me` assigns the ticket to the signed-in person.
pub async fn update(
    State(state): State<AppState>,
    agent: Agent,
    Id(id): Id,
    mut body: FormBody,
) -> PageResult {
    check_csrf(&agent, &body)?;
    let ticket = ticket_or_404(&state, id).await?;
    if body.fields.text("assign").as_deref() == Some("me") {
        body.fields.push(
            "assignee".to_owned(),
            Raw::Text(agent.person.id.to_string()),
        );
    }
    let changes = staff_changes(&body, &state, &ticket).await?;
    staff::update(&state.db, &ticket, agent.person.id, &changes).await?;
    Ok(to_ticket(id, &view_of(&body)))
}

/// `POST /console/tickets/{id}/tags`: the tags editor. `remove` takes one tag off, `add` puts
/// one on, relative to the ticket's tags as they are now (so that two people editing tags at
/// once do not undo each other); the result goes through the single update's checks.
pub async fn tags(
    State(state): State<AppState>,
    agent: Agent,
    Id(id): Id,
    body: FormBody,
) -> PageResult {
    check_csrf(&agent, &body)?;
    let ticket = ticket_or_404(&state, id).await?;
    let tag_id = |name: &'static str| {
        body.fields.text(name).map(|text| {
            text.trim()
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| ApiError::field(name, "Choose a tag from the list."))
        })
    };
    let mut current = tickets::ticket_tag_ids(&state.db, id).await?;
    if let Some(remove) = tag_id("remove") {
        let remove = remove?;
        current.retain(|t| *t != remove);
    } else if let Some(add) = tag_id("add") {
        let add = add?;
        if !current.contains(&add) {
            current.push(add);
        }
    } else {
        return Err(ApiError::field("add", "Choose a tag to add.").into());
    }
    let mut form = FormBody::default();
    if current.is_empty() {
        // An empty value clears the tags (as the update's form does).
        form.fields
            .push("tags".to_owned(), Raw::Text(String::new()));
    }
    for tag in current {
        form.fields
            .push("tags".to_owned(), Raw::Text(tag.to_string()));
    }
    let changes = staff_changes(&form, &state, &ticket).await?;
    staff::update(&state.db, &ticket, agent.person.id, &changes).await?;
    Ok(to_ticket(id, &view_of(&body)))
}

/// `POST /console/tickets/{id}/presence`: `state=replying` while a reply or note is being
/// typed (the page says it every few seconds), `state=idle` once it is sent or the page left.
pub async fn presence(
    State(state): State<AppState>,
    agent: Agent,
    Id(id): Id,
    body: FormBody,
) -> PageResult {
    check_csrf(&agent, &body)?;
    let ticket = ticket_or_404(&state, id).await?;
    let on = match body.fields.text("state").as_deref().map(str::trim) {
        Some("replying") => true,
        Some("idle") => false,
        _ => {
            return Err(ApiError::field("state", "Either \"replying\" or \"idle\".").into());
        }
    };
    state.presence.replying(
        ticket.id,
        agent.session_id,
        agent.person.id,
        &agent.person.email,
        on,
    );
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// `GET /console/attachments/{id}`: any attachment, for staff, with the download's headers.
pub async fn attachment(State(state): State<AppState>, _agent: Agent, Id(id): Id) -> PageResult {
    let Some(attachment) = tickets::attachment_for_download(&state.db, id).await? else {
        return Err(ApiError::not_found().into());
    };
    Ok(crate::http::routes::attachments::send_attachment(&state, id, &attachment).await?)
}
