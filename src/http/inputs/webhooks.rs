//! The webhook routes' inputs: an endpoint's URL, events and description.

use serde_json::Value as Json;

use crate::domain::fields::{self, AllFields, Field, FieldErrors, Raw, field};
use crate::http::extract::FormBody;
use crate::services::notify::webhooks::sender;
use crate::store::webhooks::{Changes, Subscription};

/// Most characters in a URL.
pub const URL_MAX_CHARS: usize = 2000;
/// Most characters in a description.
pub const DESCRIPTION_MAX_CHARS: usize = 1000;

/// The URL's text and syntax; whether it may be reached is checked after (it needs DNS).
fn url(raw: Option<&Raw>) -> Result<String, String> {
    let text = fields::text(raw, URL_MAX_CHARS)?;
    sender::parse_url(&text).map_err(str::to_owned)?;
    Ok(text)
}

/// `events`: a JSON list of names, or names comma-separated or repeated in a form; `*` (alone
/// or among others) for every event.
fn events(raws: &[Raw]) -> Result<Subscription, String> {
    let mut names: Vec<String> = Vec::new();
    for raw in raws {
        match raw {
            Raw::Text(text) | Raw::Json(Json::String(text)) => {
                names.extend(text.split(',').map(|n| n.trim().to_owned()));
            }
            Raw::Json(Json::Array(items)) => {
                for item in items {
                    match item {
                        Json::String(name) => names.push(name.trim().to_owned()),
                        _ => return Err(fields::NOT_A_STRING.to_owned()),
                    }
                }
            }
            Raw::Json(Json::Null) => return Err(fields::NULL.to_owned()),
            Raw::Json(other) => return Err(fields::not_a_list(other)),
        }
    }
    Subscription::from_names(&names)
}

fn optional_events(raws: &[Raw]) -> Field<Option<Subscription>> {
    if raws.is_empty() {
        return Ok(None);
    }
    field("events", events(raws).map(Some))
}

/// `POST admin/webhooks/`.
pub struct NewWebhook {
    pub url: String,
    pub events: Subscription,
    pub description: String,
}

impl NewWebhook {
    pub fn parse(body: &FormBody) -> Result<Self, FieldErrors> {
        let f = &body.fields;
        let (url, events, description) = (
            field("url", url(f.get("url"))),
            optional_events(f.all("events")),
            field(
                "description",
                fields::optional_text(f.get("description"), DESCRIPTION_MAX_CHARS, true),
            ),
        )
            .all()?;
        Ok(Self {
            url,
            // No list: every event.
            events: events.unwrap_or(Subscription::All),
            description: description.unwrap_or_default(),
        })
    }
}

/// `PATCH admin/webhooks/{id}/`: each field optional.
pub fn changes(body: &FormBody) -> Result<Changes, FieldErrors> {
    let f = &body.fields;
    let (url, events, description, enabled) = (
        field("url", f.get("url").map(|raw| url(Some(raw))).transpose()),
        optional_events(f.all("events")),
        field(
            "description",
            fields::optional_text(f.get("description"), DESCRIPTION_MAX_CHARS, true),
        ),
        field("enabled", fields::boolean(f.get("enabled"))),
    )
        .all()?;
    Ok(Changes {
        url,
        events,
        description,
        enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::TicketEvent;

    fn text(s: &str) -> Raw {
        Raw::Text(s.to_owned())
    }

    #[test]
    fn events_are_names_or_a_star() {
        assert_eq!(events(&[text("*")]), Ok(Subscription::All));
        assert_eq!(
            events(&[Raw::Json(serde_json::json!([
                "ticket.assigned",
                "ticket.created"
            ]))]),
            Ok(Subscription::Only(vec![
                TicketEvent::Created,
                TicketEvent::Assigned
            ]))
        );
        assert_eq!(
            events(&[text("ticket.created, ticket.created")]),
            Ok(Subscription::Only(vec![TicketEvent::Created]))
        );
        assert_eq!(
            events(&[text("ticket.deleted")]),
            Err("\"ticket.deleted\" is not a valid choice.".to_owned())
        );
        assert_eq!(
            events(&[Raw::Json(serde_json::json!([]))]),
            Err(fields::EMPTY_LIST.to_owned())
        );
        assert!(events(&[Raw::Json(serde_json::json!([1]))]).is_err());
    }

    #[test]
    fn a_wrong_type_for_events_is_named_as_sent() {
        let not_a_list = |value: serde_json::Value| events(&[Raw::Json(value)]);
        assert_eq!(
            not_a_list(serde_json::json!(5)),
            Err("Expected a list of items but got type \"int\".".to_owned())
        );
        assert_eq!(
            not_a_list(serde_json::json!(1.5)),
            Err("Expected a list of items but got type \"float\".".to_owned())
        );
        assert_eq!(
            not_a_list(serde_json::json!(true)),
            Err("Expected a list of items but got type \"bool\".".to_owned())
        );
        assert_eq!(
            not_a_list(serde_json::json!({"a": 1})),
            Err("Expected a list of items but got type \"dict\".".to_owned())
        );
    }
}
