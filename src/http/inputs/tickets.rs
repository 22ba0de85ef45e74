//! The customer operations' inputs (endpoints 2, 3, 5, 6, 8 and 9).

use axum::extract::{FromRequest, Request};

use super::{attachments, existing};
use crate::app::AppState;
use crate::domain::fields::{
    self, AllFields, COMMENT_MAX_CHARS, Field, FieldErrors, Fields, Raw, SUBJECT_MAX_CHARS,
    TICKET_ID_INVALID, field,
};
use crate::domain::people::Person;
use crate::domain::ticket::{CustomerStatusRequest, Priority};
use crate::http::envelope::ApiError;
use crate::http::extract::{FormBody, read_body_in_time};
use crate::store::tickets::{self, HistoryFilter, TicketRow};

const HISTORY_DEFAULT_LIMIT: i64 = 50;
const HISTORY_MAX_LIMIT: i64 = 1000;

/// The `ticket_id`/`ticket` of endpoints 5 and 9: the ticket it names, with their own messages.
async fn ticket_field(state: &AppState, raw: Option<&Raw>) -> Result<Field<TicketRow>, ApiError> {
    let pk = match fields::ticket_ref(raw) {
        Ok(pk) => pk,
        Err(message) => return Ok(field("ticket", Err(message))),
    };
    let ticket = match pk.id {
        Some(id) => tickets::find_ticket(&state.db, id).await?,
        None => None,
    };
    Ok(ticket.ok_or_else(|| FieldErrors::one("ticket", TICKET_ID_INVALID)))
}

/// A category that may be newly chosen (active), or `keep`, the one a ticket already has.
pub(crate) async fn category_field(
    state: &AppState,
    raw: Option<&Raw>,
    keep: Option<i64>,
) -> Result<Field<i64>, ApiError> {
    existing("category", raw, |id| async move {
        let usable = Some(id) == keep || tickets::category_is_active(&state.db, id).await?;
        Ok(usable.then_some(id))
    })
    .await
}

/// Endpoint 2.
pub struct CreateTicket {
    pub subject: String,
    pub priority: Priority,
    pub comment: String,
    pub category_id: i64,
}

impl CreateTicket {
    pub async fn parse(body: &FormBody, state: &AppState) -> Result<Self, ApiError> {
        let f = &body.fields;
        let (subject, priority, comment, category_id, ()) = (
            field("subject", fields::text(f.get("subject"), SUBJECT_MAX_CHARS)),
            field("priority", fields::choice(f.get("priority"))),
            field("comment", fields::text(f.get("comment"), COMMENT_MAX_CHARS)),
            category_field(state, f.get("category"), None).await?,
            attachments(body),
        )
            .all()?;
        Ok(Self {
            subject,
            priority,
            comment,
            category_id,
        })
    }
}

/// Endpoint 3's query string.
pub fn history_filter(query: Option<&str>) -> Result<HistoryFilter, FieldErrors> {
    let q = Fields::from_query(query);
    let (offset, limit) = fields::page(&q, HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT);
    let integer = |name: &str, message: &'static str| {
        field(
            name,
            fields::query_integer(q.text(name).as_deref()).map_err(|()| message),
        )
    };
    let (offset, limit, category, status, subject) = (
        offset,
        limit,
        integer("category", "Category id is not valid numeric."),
        integer("status", "Status id is not valid numeric."),
        field("subject", fields::query_text(q.text("subject"))),
    )
        .all()?;
    Ok(HistoryFilter {
        subject,
        category,
        status,
        offset,
        limit,
    })
}

/// Endpoint 5. Ownership is checked after the fields, as the contract orders it.
pub struct UpdateTicket {
    pub ticket: TicketRow,
    pub priority: Option<Priority>,
    pub tags: Vec<i64>,
}

impl UpdateTicket {
    pub async fn parse(
        body: &FormBody,
        state: &AppState,
        person: &Person,
    ) -> Result<Self, ApiError> {
        let f = &body.fields;
        let ticket = ticket_field(state, f.get("ticket_id")).await?;
        let priority = field("priority", fields::optional_choice(f.get("priority")));
        let tags = match fields::pk_list(f.all("tags")) {
            Err(message) => field("tags", Err(message)),
            Ok(items) => {
                // Inactive tags cannot be newly chosen, but may stay on the caller's own ticket.
                let mut allowed = tickets::active_tag_ids(&state.db).await?;
                if let Ok(t) = ticket.as_ref()
                    && t.author_id == person.id
                {
                    allowed.extend(tickets::ticket_tag_ids(&state.db, t.id).await?);
                }
                field("tags", fields::resolve_ids(items, &allowed))
            }
        };
        let (ticket, priority, tags) = (ticket, priority, tags).all()?;
        Ok(Self {
            ticket,
            priority,
            tags,
        })
    }
}

/// Endpoint 6: `ticket_id` from the query string, else from a body of any encoding (the sample
/// code sends it in a GET body).
pub struct TicketDetail {
    pub ticket_id: i64,
}

impl FromRequest<AppState> for TicketDetail {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let query = Fields::from_query(req.uri().query());
        let raw = match query.get("ticket_id") {
            Some(raw) => Some(raw.clone()),
            None => read_body_in_time(req, state)
                .await?
                .fields
                .get("ticket_id")
                .cloned(),
        };
        let pk = fields::ticket_ref(raw.as_ref()).map_err(|m| ApiError::field("ticket", m))?;
        match pk.id {
            Some(ticket_id) => Ok(Self { ticket_id }),
            None => Err(ApiError::field("ticket", TICKET_ID_INVALID)),
        }
    }
}

/// Endpoint 8.
pub struct AddConversation {
    pub ticket: TicketRow,
    pub comment: String,
}

impl AddConversation {
    pub async fn parse(body: &FormBody, state: &AppState) -> Result<Self, ApiError> {
        let f = &body.fields;
        let (ticket, comment, ()) = (
            existing("ticket", f.get("ticket"), |id| async move {
                Ok(tickets::find_ticket(&state.db, id).await?)
            })
            .await?,
            field("comment", fields::text(f.get("comment"), COMMENT_MAX_CHARS)),
            attachments(body),
        )
            .all()?;
        Ok(Self { ticket, comment })
    }
}

/// Endpoint 9.
pub struct ChangeStatus {
    pub ticket: TicketRow,
    pub request: CustomerStatusRequest,
}

impl ChangeStatus {
    pub async fn parse(body: &FormBody, state: &AppState) -> Result<Self, ApiError> {
        let f = &body.fields;
        let (ticket, request) = (
            ticket_field(state, f.get("ticket")).await?,
            field("status", fields::status_choice(f.get("status"))),
        )
            .all()?;
        Ok(Self { ticket, request })
    }
}
