//! The administrators' operations' inputs: catalog entries, people, API keys, settings.

use crate::domain::fields::{self, AllFields, FieldErrors, Raw, field};
use crate::domain::password;
use crate::domain::people::{KeyScope, Role, email_field};
use crate::http::extract::FormBody;
use crate::store::catalog::Catalog;

/// Most characters in a category's or tag's name, and in an API key's name.
pub const NAME_MAX_CHARS: usize = 100;
/// Most characters in a category's description or a tag's keyword.
pub const DETAIL_MAX_CHARS: usize = 1000;

/// The field names of a list: `category`/`description` or `tag`/`keyword`, as the contract
/// names them.
pub fn field_names(which: Catalog) -> (&'static str, &'static str) {
    match which {
        Catalog::Categories => ("category", "description"),
        Catalog::Tags => ("tag", "keyword"),
    }
}

/// `POST admin/categories/` and `admin/tags/`.
pub struct NewCatalogEntry {
    pub name: String,
    pub detail: String,
}

impl NewCatalogEntry {
    pub fn parse(body: &FormBody, which: Catalog) -> Result<Self, FieldErrors> {
        let (name_field, detail_field) = field_names(which);
        let f = &body.fields;
        let (name, detail) = (
            field(name_field, fields::text(f.get(name_field), NAME_MAX_CHARS)),
            field(
                detail_field,
                fields::optional_text(f.get(detail_field), DETAIL_MAX_CHARS, true),
            ),
        )
            .all()?;
        Ok(Self {
            name,
            detail: detail.unwrap_or_default(),
        })
    }
}

/// `POST admin/categories/{id}/` and `admin/tags/{id}/`: each field optional.
pub struct CatalogChanges {
    pub name: Option<String>,
    pub detail: Option<String>,
    pub active: Option<bool>,
}

impl CatalogChanges {
    pub fn parse(body: &FormBody, which: Catalog) -> Result<Self, FieldErrors> {
        let (name_field, detail_field) = field_names(which);
        let f = &body.fields;
        let (name, detail, active) = (
            field(
                name_field,
                fields::optional_text(f.get(name_field), NAME_MAX_CHARS, false),
            ),
            field(
                detail_field,
                fields::optional_text(f.get(detail_field), DETAIL_MAX_CHARS, true),
            ),
            field("active", fields::boolean(f.get("active"))),
        )
            .all()?;
        Ok(Self {
            name,
            detail,
            active,
        })
    }
}

/// `POST admin/users/`.
pub struct NewPerson {
    pub email: String,
    pub password: String,
    pub role: Role,
}

impl NewPerson {
    pub fn parse(body: &FormBody) -> Result<Self, FieldErrors> {
        let f = &body.fields;
        let (email, password, role) = (
            field("email", email_field(f.get("email"), true)),
            field("password", password::field(f.get("password"))),
            field("role", fields::optional_choice(f.get("role"))),
        )
            .all()?;
        Ok(Self {
            email,
            password,
            role: role.unwrap_or(Role::Customer),
        })
    }
}

/// `POST admin/users/{id}/`: each field optional.
pub struct PersonChanges {
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub password: Option<String>,
    /// `false` opts the person out of email notifications, `true` back in.
    pub email_notifications: Option<bool>,
}

impl PersonChanges {
    pub fn parse(body: &FormBody) -> Result<Self, FieldErrors> {
        let f = &body.fields;
        let (role, active, password, email_notifications) = (
            field("role", fields::optional_choice(f.get("role"))),
            field("active", fields::boolean(f.get("active"))),
            field("password", password::optional_field(f.get("password"))),
            field(
                "email_notifications",
                fields::boolean(f.get("email_notifications")),
            ),
        )
            .all()?;
        Ok(Self {
            role,
            active,
            password,
            email_notifications,
        })
    }
}

/// `POST admin/apikeys/`.
pub struct NewApiKey {
    pub name: String,
    pub scope: KeyScope,
}

impl NewApiKey {
    pub fn parse(body: &FormBody) -> Result<Self, FieldErrors> {
        let f = &body.fields;
        let (name, scope) = (
            field("name", fields::text(f.get("name"), NAME_MAX_CHARS)),
            field("scope", fields::optional_choice(f.get("scope"))),
        )
            .all()?;
        Ok(Self {
            name,
            scope: scope.unwrap_or(KeyScope::Customer),
        })
    }
}

/// Fewest and most open tickets a person may have at once.
pub const OPEN_TICKET_LIMIT_RANGE: std::ops::RangeInclusive<i64> = 1..=100_000;

/// `POST admin/settings/`.
pub struct SettingsChanges {
    pub open_ticket_limit: Option<i64>,
}

impl SettingsChanges {
    pub fn parse(body: &FormBody) -> Result<Self, FieldErrors> {
        let Some(raw) = body.fields.get("open_ticket_limit") else {
            return Ok(Self {
                open_ticket_limit: None,
            });
        };
        let value = match raw {
            Raw::Text(s) | Raw::Json(serde_json::Value::String(s)) => {
                fields::query_integer(Some(s)).ok().flatten()
            }
            Raw::Json(serde_json::Value::Number(n)) => n.as_i64(),
            _ => None,
        };
        let limit = match value {
            Some(n) if OPEN_TICKET_LIMIT_RANGE.contains(&n) => Ok(Some(n)),
            Some(_) => Err(format!(
                "Ensure this value is between {} and {}.",
                OPEN_TICKET_LIMIT_RANGE.start(),
                OPEN_TICKET_LIMIT_RANGE.end()
            )),
            None => Err(fields::VALID_INTEGER.to_owned()),
        };
        let (open_ticket_limit,) = (field("open_ticket_limit", limit),).all()?;
        Ok(Self { open_ticket_limit })
    }
}
