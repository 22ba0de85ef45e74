//! One input type per operation, each with the one `parse` that reads its fields by name and
//! reports every field error together (contract section 5), yielding domain types: handlers
//! receive only valid values and never look at a raw field. A `parse` that must ask the
//! database (does this category exist, is this tag active) does so while collecting, so a
//! missing object is reported beside the other fields' messages.

pub mod admin;
pub mod auth;
pub mod search;
pub mod staff;
pub mod tickets;
pub mod webhooks;

use crate::domain::fields::{self, Field, FieldErrors, PkRef, Raw};
use crate::http::envelope::ApiError;
use crate::http::extract::FormBody;

/// The problems with the `attachment` field found while the body was read.
pub(crate) fn attachments(body: &FormBody) -> Field<()> {
    let mut errors = FieldErrors::default();
    for message in &body.attachment_errors {
        errors.add("attachment", *message);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// An id field whose object must exist: `found` says whether the parsed id names one.
pub(crate) async fn existing<T, F>(
    name: &str,
    raw: Option<&Raw>,
    found: impl FnOnce(i64) -> F,
) -> Result<Field<T>, ApiError>
where
    F: Future<Output = Result<Option<T>, ApiError>>,
{
    let pk: PkRef = match fields::pk(raw) {
        Ok(pk) => pk,
        Err(message) => return Ok(fields::field(name, Err(message))),
    };
    let object = match pk.id {
        Some(id) => found(id).await?,
        None => None,
    };
    Ok(object.ok_or_else(|| FieldErrors::one(name, fields::no_such_object(&pk.sent))))
}
