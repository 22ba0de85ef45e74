//! The queue page: a view (Mine, Unassigned, All open, Closed) narrowed by the filters, sorted,
//! paged by keyset (the agent API's own query parsing and store query), or the agent search's
//! hits for what was typed in the search box.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;

use super::pages::{Frame, PageResult, View, priority_name, status_name, when};
use super::session::Agent;
use crate::app::AppState;
use crate::domain::catalog::{Catalog, CatalogEntry};
use crate::domain::ticket::{Priority, Status};
use crate::http::inputs::search::agent_search;
use crate::http::inputs::staff::{queue_filter, sort_name};
use crate::store::queue::{self, QueueFilter};
use crate::store::search;
use crate::store::staff;
use crate::store::tickets::TicketRow;

/// A row of the queue.
pub struct Row {
    pub id: i64,
    pub subject: String,
    pub customer: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub priority: &'static str,
    pub priority_class: &'static str,
    pub category: String,
    pub assignee: String,
    pub updated: String,
}

impl Row {
    pub fn new(ticket: &TicketRow, customer: &str, staff: &HashMap<i64, String>) -> Self {
        Self {
            id: ticket.id,
            subject: ticket.subject.clone(),
            customer: customer.to_owned(),
            status: status_name(ticket.status),
            status_class: match ticket.status {
                Status::Open => "open",
                Status::Processing => "processing",
                Status::Closed => "closed",
            },
            priority: priority_name(ticket.priority),
            priority_class: match ticket.priority {
                Priority::Low => "low",
                Priority::Medium => "medium",
                Priority::High => "high",
            },
            category: ticket.category_title.clone(),
            assignee: ticket.assignee_id.map_or_else(String::new, |id| {
                staff.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
            }),
            updated: when(ticket.updated_at),
        }
    }
}

/// An option of a filter's select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices(
    options: impl IntoIterator<Item = (String, String)>,
    current: Option<&str>,
) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            selected: current == Some(value.as_str()),
            value,
            label,
        })
        .collect()
}

fn catalog_choices(entries: &[CatalogEntry], current: Option<&str>) -> Vec<Choice> {
    choices(
        entries.iter().map(|e| (e.id.to_string(), e.name.clone())),
        current,
    )
}

#[derive(Template, WebTemplate)]
#[template(path = "console/queue.html")]
struct QueuePage {
    frame: Frame,
    title: String,
    view: &'static str,
    rows: Vec<Row>,
    statuses: Vec<Choice>,
    priorities: Vec<Choice>,
    categories: Vec<Choice>,
    tags: Vec<Choice>,
    assignees: Vec<Choice>,
    sorts: Vec<Choice>,
    /// What an empty Status or Assignee filter means in this view (its own choice).
    status_default: &'static str,
    assignee_default: &'static str,
    next_page: String,
    /// The view and filters as a query string (where a bulk change comes back to).
    view_query: String,
    /// Every row ticked (the "Select all on page" link, for use without JavaScript).
    select_all: bool,
    select_all_url: String,
    /// How many tickets the bulk change just made changed.
    done: Option<u32>,
    /// This page's own URL, which live updates fetch again.
    self_url: String,
    searching: bool,
}

/// The query string's parameters with a value, without those named in `drop`.
pub fn kept_params(query: Option<&str>, drop: &[&str]) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(name, value)| !value.trim().is_empty() && !drop.contains(&name.as_ref()))
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect()
}

pub fn encode(params: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

/// The view's filter narrowed by the page's: the agent API's parser reads the filters (so the
/// same values are accepted and refused), and the view supplies what they leave open.
pub fn view_filter(
    query: Option<&str>,
    view: View,
    me: i64,
) -> Result<QueueFilter, crate::domain::fields::FieldErrors> {
    let params = kept_params(query, &["view", "search", "csrf", "next", "select", "done"]);
    let mut filter = queue_filter(Some(&encode(&params)))?;
    let base = view.base_filter(me);
    if filter.statuses.is_empty() {
        filter.statuses = base.statuses;
    }
    if filter.assignee.is_none() {
        filter.assignee = base.assignee;
    }
    Ok(filter)
}

/// `GET /console`: the queue.
pub async fn page(
    State(state): State<AppState>,
    agent: Agent,
    RawQuery(query): RawQuery,
) -> PageResult {
    let q = crate::domain::fields::Fields::from_query(query.as_deref());
    let view = View::from_param(q.text("view").as_deref());
    let search_text = q.text("search").unwrap_or_default();
    let staff_list = staff::assignable(&state.db).await?;
    let staff_map: HashMap<i64, String> = staff_list.iter().cloned().collect();
    let mut next_page = String::new();
    let (rows, title) = if search_text.trim().is_empty() {
        let filter = view_filter(query.as_deref(), view, agent.person.id)?;
        let found = queue::list(&state.db, &filter).await?;
        if let Some(last) = found.last()
            && i64::try_from(found.len()).unwrap_or(i64::MAX) == filter.limit
        {
            let mut params = kept_params(query.as_deref(), &["cursor"]);
            params.push((
                "cursor".to_owned(),
                format!(
                    "{}:{}:{}",
                    sort_name(filter.sort),
                    filter.sort.value_of(&last.ticket),
                    last.ticket.id
                ),
            ));
            next_page = format!("/console?{}", encode(&params));
        }
        let rows = found
            .iter()
            .map(|r| Row::new(&r.ticket, &r.author_email, &staff_map))
            .collect();
        (rows, view.title().to_owned())
    } else {
        let params = vec![("q".to_owned(), search_text.clone())];
        let request = agent_search(Some(&encode(&params)))?;
        let found = search::search(&state.db, &request).await?;
        let rows = found
            .hits
            .iter()
            .map(|h| Row::new(&h.ticket, &h.author_email, &staff_map))
            .collect();
        (rows, format!("Search: {search_text}"))
    };
    let current = |name: &str| q.text(name);
    let categories = state.db.active_catalog(Catalog::Categories).await?;
    let tags = state.db.active_catalog(Catalog::Tags).await?;
    let mut assignee_options = vec![("none".to_owned(), "Nobody".to_owned())];
    assignee_options.extend(
        staff_list
            .iter()
            .map(|(id, email)| (id.to_string(), email.clone())),
    );
    let page = QueuePage {
        frame: Frame::new(
            &state,
            &agent,
            (search_text.is_empty()).then_some(view),
            &search_text,
        )
        .await?,
        title,
        view: view.param(),
        rows,
        statuses: choices(
            [Status::Open, Status::Processing, Status::Closed]
                .map(|s| (s.code().to_string(), status_name(s).to_owned())),
            current("status").as_deref(),
        ),
        priorities: choices(
            [Priority::High, Priority::Medium, Priority::Low]
                .map(|p| (p.code().to_string(), priority_name(p).to_owned())),
            current("priority").as_deref(),
        ),
        categories: catalog_choices(&categories, current("category").as_deref()),
        tags: catalog_choices(&tags, current("tag").as_deref()),
        assignees: choices(assignee_options, current("assignee").as_deref()),
        sorts: choices(
            [
                ("-updated", "Recently updated"),
                ("updated", "Least recently updated"),
                ("-created", "Newest"),
                ("created", "Oldest"),
                ("-priority", "Highest priority"),
            ]
            .map(|(v, l)| (v.to_owned(), l.to_owned())),
            Some(current("sort").as_deref().unwrap_or("-created")),
        ),
        status_default: match view {
            View::Closed => "Closed",
            _ => "Open + processing",
        },
        assignee_default: match view {
            View::Mine => "Me (view)",
            View::Unassigned => "Nobody (view)",
            View::Open | View::Closed => "Anyone",
        },
        next_page,
        view_query: encode(&kept_params(query.as_deref(), &super::bulk::TRANSIENT)),
        select_all: q.text("select").as_deref() == Some("all"),
        select_all_url: {
            let mut params = kept_params(query.as_deref(), &["select", "done"]);
            params.push(("select".to_owned(), "all".to_owned()));
            format!("/console?{}", encode(&params))
        },
        done: q.text("done").and_then(|d| d.trim().parse().ok()),
        // Live updates fetch the page without the one-off parts (the notice, the ticks).
        self_url: {
            let params = kept_params(query.as_deref(), &["select", "done"]);
            if params.is_empty() {
                "/console".to_owned()
            } else {
                format!("/console?{}", encode(&params))
            }
        },
        searching: !search_text.is_empty(),
    };
    Ok(page.into_response())
}
