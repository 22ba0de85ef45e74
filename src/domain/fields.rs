//! Parsing raw field values into valid ones, with the contract's messages (section 5).
//!
//! A value arrives either as form text (multipart or urlencoded) or as a JSON value. Every
//! function here turns one field's raw values into a typed value or the one message the
//! contract gives for what was wrong. How an input collects its fields is in `form`.

use serde_json::Value as Json;

pub use super::form::{AllFields, Choice, Field, FieldErrors, Fields, field};

/// One value of a field as the client sent it.
#[derive(Clone, Debug, PartialEq)]
pub enum Raw {
    Text(String),
    Json(Json),
}

pub const REQUIRED: &str = "This field is required.";
pub const BLANK: &str = "This field may not be blank.";
pub const NULL: &str = "This field may not be null.";
pub const NOT_A_STRING: &str = "Not a valid string.";
pub const EMPTY_LIST: &str = "This list may not be empty.";
pub const FILE_TOO_BIG: &str = "File is too big. Max filesize: 2MiB.";
pub const TOO_MANY_FILES: &str = "Ensure this field has no more than 5 files.";
pub const NOT_A_FILE: &str =
    "The submitted data was not a file. Check the encoding type on the form.";
pub const EMPTY_FILE: &str = "The submitted file is empty.";
pub const TICKET_ID_REQUIRED: &str = "Ticket id is required and this may not be blank.";
pub const TICKET_ID_INVALID: &str = "Ticket id is not valid.";
pub const STATUS_ID_REQUIRED: &str = "Status id is required and this may not be blank.";
pub const NOT_OWNER: &str = "You are not the owner of the requested ticket.";
pub const CANNOT_OPEN_OR_CLOSE: &str = "You Can't open or close this Ticket.";
pub const VALID_INTEGER: &str = "A valid integer is required.";
/// Text with U+0000 in it is refused on both backends alike: PostgreSQL cannot store it in a
/// `text` column, and SQLite would store it, so the rule is one field error (DRF's message).
pub const NUL_CHARACTERS: &str = "Null characters are not allowed.";

/// Whether a text value may be stored: no U+0000 anywhere in it.
pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// Most characters in a subject.
pub const SUBJECT_MAX_CHARS: usize = 500;
/// Most characters in a comment (ours: the document sets none).
pub const COMMENT_MAX_CHARS: usize = 65_536;
/// Most bytes in one attachment.
pub const ATTACHMENT_MAX_BYTES: u64 = 2 * 1024 * 1024;
/// Most attachments in one request.
pub const ATTACHMENT_MAX_FILES: usize = 5;

pub fn too_long(max: usize) -> String {
    format!("Ensure this field has no more than {max} characters.")
}

pub fn invalid_choice(sent: &str) -> String {
    format!("\"{sent}\" is not a valid choice.")
}

pub fn incorrect_pk_type(type_name: &str) -> String {
    format!("Incorrect type. Expected pk value, received {type_name}.")
}

pub fn no_such_object(sent: &str) -> String {
    format!("Invalid pk \"{sent}\" - object does not exist.")
}

/// A list was expected (`events`): the contract's wording, naming the type actually sent as
/// Python names it (`int`, `bool`, `dict`, …).
pub fn not_a_list(value: &Json) -> String {
    format!(
        "Expected a list of items but got type \"{}\".",
        python_type(value)
    )
}

/// The name Python gives a JSON value's type, as the contract's messages use it.
fn python_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "NoneType",
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_i64() || n.is_u64() => "int",
        Json::Number(_) => "float",
        Json::String(_) => "str",
        Json::Array(_) => "list",
        Json::Object(_) => "dict",
    }
}

/// How Python's `str()` would show a non-string JSON value in a message.
fn python_str(value: &Json) -> String {
    match value {
        Json::Null => "None".to_owned(),
        Json::Bool(true) => "True".to_owned(),
        Json::Bool(false) => "False".to_owned(),
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A text field (`subject`, `comment`): required, trimmed, not blank, at most `max` characters.
pub fn text(raw: Option<&Raw>, max: usize) -> Result<String, String> {
    let value = match raw {
        None => return Err(REQUIRED.to_owned()),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) => s.trim(),
        Some(Raw::Json(Json::Null)) => return Err(NULL.to_owned()),
        Some(Raw::Json(_)) => return Err(NOT_A_STRING.to_owned()),
    };
    if value.is_empty() {
        return Err(BLANK.to_owned());
    }
    if has_nul(value) {
        return Err(NUL_CHARACTERS.to_owned());
    }
    if value.chars().count() > max {
        return Err(too_long(max));
    }
    Ok(value.to_owned())
}

/// A free-text query parameter (`subject`, `q`, `author`): trimmed, empty counts as absent,
/// and refused with [`NUL_CHARACTERS`] when it holds U+0000, as a body field would be.
pub fn query_text(value: Option<String>) -> Result<Option<String>, &'static str> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) if has_nul(text) => Err(NUL_CHARACTERS),
        Some(text) => Ok(Some(text.to_owned())),
    }
}

/// A choice field (`priority`, `role`): strings or integers, compared as the trimmed text sent.
pub fn choice<T: Choice>(raw: Option<&Raw>) -> Result<T, String> {
    let sent = match raw {
        None => return Err(REQUIRED.to_owned()),
        Some(Raw::Json(Json::Null)) => return Err(NULL.to_owned()),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) => s.trim().to_owned(),
        Some(Raw::Json(other)) => python_str(other),
    };
    T::from_code_text(&sent).ok_or_else(|| invalid_choice(&sent))
}

/// An optional choice field: absent is `None`; present is checked as [`choice`].
pub fn optional_choice<T: Choice>(raw: Option<&Raw>) -> Result<Option<T>, String> {
    match raw {
        None => Ok(None),
        Some(_) => choice(raw).map(Some),
    }
}

/// A list of choices in a query parameter (`status=1,2` or repeated): every value, or the
/// message for the first one that is not a choice.
pub fn choice_list<T: Choice>(raws: &[Raw]) -> Result<Vec<T>, String> {
    let mut values = Vec::new();
    for raw in raws {
        let Raw::Text(text) = raw else {
            values.push(choice(Some(raw))?);
            continue;
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            values.push(choice(Some(&Raw::Text(part.to_owned())))?);
        }
    }
    Ok(values)
}

/// A primary key as sent: the text for messages, and the id when it can name a row at all
/// (an integer too large for 64 bits names nothing, but is still "an integer").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkRef {
    pub sent: String,
    pub id: Option<i64>,
}

impl PkRef {
    fn from_integer_text(text: &str) -> Option<Self> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            sent: text.to_owned(),
            id: text.parse().ok(),
        })
    }

    fn from_json_number(n: &serde_json::Number) -> Option<Self> {
        if n.is_i64() || n.is_u64() {
            Some(Self {
                sent: n.to_string(),
                id: n.as_i64(),
            })
        } else {
            None
        }
    }
}

/// Parses one id item: `Ok` for an integer, `Err` with the contract's type message otherwise.
fn pk_item(raw: &Raw) -> Result<PkRef, String> {
    match raw {
        Raw::Text(s) | Raw::Json(Json::String(s)) => {
            PkRef::from_integer_text(s.trim()).ok_or_else(|| incorrect_pk_type("str"))
        }
        Raw::Json(Json::Number(n)) => {
            PkRef::from_json_number(n).ok_or_else(|| incorrect_pk_type("float"))
        }
        Raw::Json(Json::Null) => Err(NULL.to_owned()),
        Raw::Json(other) => Err(incorrect_pk_type(python_type(other))),
    }
}

/// An id field (`category`, `ticket` of endpoint 8): required; empty or null is "may not be
/// null"; anything but an integer is an incorrect type.
pub fn pk(raw: Option<&Raw>) -> Result<PkRef, String> {
    match raw {
        None => Err(REQUIRED.to_owned()),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) if s.trim().is_empty() => {
            Err(NULL.to_owned())
        }
        Some(raw) => pk_item(raw),
    }
}

/// The `ticket_id`/`ticket` of endpoints 5, 6 and 9, with their own messages.
pub fn ticket_ref(raw: Option<&Raw>) -> Result<PkRef, &'static str> {
    match raw {
        None | Some(Raw::Json(Json::Null)) => Err(TICKET_ID_REQUIRED),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) if s.trim().is_empty() => {
            Err(TICKET_ID_REQUIRED)
        }
        Some(raw) => pk_item(raw).map_err(|_| TICKET_ID_INVALID),
    }
}

/// The `status` of endpoint 9: required, one of `T`'s choices.
pub fn status_choice<T: Choice>(raw: Option<&Raw>) -> Result<T, String> {
    match raw {
        None | Some(Raw::Json(Json::Null)) => Err(STATUS_ID_REQUIRED.to_owned()),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) if s.trim().is_empty() => {
            Err(STATUS_ID_REQUIRED.to_owned())
        }
        Some(_) => choice(raw),
    }
}

/// A list of ids (`tags`): repeated fields, comma-separated text, or a JSON array. Items are
/// returned in the order sent, duplicates dropped, each parsed or carrying its type message.
pub fn pk_list(raws: &[Raw]) -> Result<Vec<Result<PkRef, String>>, String> {
    if raws.is_empty() {
        return Err(REQUIRED.to_owned());
    }
    let mut items: Vec<Raw> = Vec::new();
    for raw in raws {
        match raw {
            Raw::Text(s) | Raw::Json(Json::String(s)) => items.extend(
                s.split(',')
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .map(|part| Raw::Text(part.to_owned())),
            ),
            Raw::Json(Json::Array(values)) => {
                items.extend(values.iter().cloned().map(Raw::Json));
            }
            Raw::Json(Json::Null) => return Err(NULL.to_owned()),
            Raw::Json(other) => items.push(Raw::Json(other.clone())),
        }
    }
    if items.is_empty() {
        return Err(EMPTY_LIST.to_owned());
    }
    let mut seen = std::collections::HashSet::new();
    let mut parsed = Vec::with_capacity(items.len());
    for item in &items {
        let result = pk_item(item);
        if let Ok(PkRef { id: Some(id), .. }) = &result
            && !seen.insert(*id)
        {
            continue;
        }
        parsed.push(result);
    }
    Ok(parsed)
}

/// A yes/no field: `true`/`false`, `1`/`0` (also `yes`/`no`, `on`/`off`) or a JSON boolean.
pub fn boolean(raw: Option<&Raw>) -> Result<Option<bool>, String> {
    let text = match raw {
        None => return Ok(None),
        Some(Raw::Json(Json::Bool(b))) => return Ok(Some(*b)),
        Some(Raw::Json(Json::Null)) => return Err(NULL.to_owned()),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s))) => s.trim().to_ascii_lowercase(),
        Some(Raw::Json(other)) => python_str(other).to_ascii_lowercase(),
    };
    match text.as_str() {
        "true" | "1" | "yes" | "on" => Ok(Some(true)),
        "false" | "0" | "no" | "off" => Ok(Some(false)),
        _ => Err("Must be a valid boolean.".to_owned()),
    }
}

/// An optional text field: absent is `None`; present is checked as [`text`], except that it may
/// be blank when `allow_blank` (an emptied description).
pub fn optional_text(
    raw: Option<&Raw>,
    max: usize,
    allow_blank: bool,
) -> Result<Option<String>, String> {
    match raw {
        None => Ok(None),
        Some(Raw::Text(s)) | Some(Raw::Json(Json::String(s)))
            if allow_blank && s.trim().is_empty() && !has_nul(s) =>
        {
            Ok(Some(String::new()))
        }
        Some(_) => text(raw, max).map(Some),
    }
}

/// The ids of a parsed list, or the message for its first bad item: a wrong type, or an id
/// not among `allowed`.
pub fn resolve_ids(
    items: Vec<Result<PkRef, String>>,
    allowed: &std::collections::HashSet<i64>,
) -> Result<Vec<i64>, String> {
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let pk = item?;
        match pk.id {
            Some(id) if allowed.contains(&id) => ids.push(id),
            _ => return Err(no_such_object(&pk.sent)),
        }
    }
    Ok(ids)
}

/// A query-string integer (`-?[0-9]+` fitting 64 bits); an empty value counts as absent.
#[expect(
    clippy::result_unit_err,
    reason = "each caller names its own message for a value that is not an integer"
)]
pub fn query_integer(value: Option<&str>) -> Result<Option<i64>, ()> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => {
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            text.parse().map(Some).map_err(|_| ())
        }
    }
}

/// `offset` and `limit` of a list: defaults, lower bounds, and `limit` capped at `max`.
pub fn page(query: &Fields, default_limit: i64, max_limit: i64) -> (Field<i64>, Field<i64>) {
    let offset = match query_integer(query.text("offset").as_deref()) {
        Ok(Some(offset)) if offset < 0 => Err("Ensure this value is greater than or equal to 0."),
        Ok(offset) => Ok(offset.unwrap_or(0)),
        Err(()) => Err(VALID_INTEGER),
    };
    let limit = match query_integer(query.text("limit").as_deref()) {
        Ok(Some(limit)) if limit < 1 => Err("Ensure this value is greater than or equal to 1."),
        Ok(limit) => Ok(limit.unwrap_or(default_limit).min(max_limit)),
        Err(()) => Err(VALID_INTEGER),
    };
    (field("offset", offset), field("limit", limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> Raw {
        Raw::Text(s.to_owned())
    }

    #[test]
    fn text_fields_follow_the_contract() {
        assert_eq!(text(None, 5), Err(REQUIRED.to_owned()));
        assert_eq!(text(Some(&t("   ")), 5), Err(BLANK.to_owned()));
        assert_eq!(text(Some(&t(" héllo ")), 5), Ok("héllo".to_owned()));
        assert_eq!(text(Some(&t("héllo!")), 5), Err(too_long(5)));
        assert_eq!(
            text(Some(&Raw::Json(json!(5))), 5),
            Err(NOT_A_STRING.to_owned())
        );
        assert_eq!(text(Some(&Raw::Json(json!(null))), 5), Err(NULL.to_owned()));
        assert_eq!(text(Some(&t("a\0b")), 5), Err(NUL_CHARACTERS.to_owned()));
        assert_eq!(query_text(Some(" \0 ".to_owned())), Err(NUL_CHARACTERS));
        assert_eq!(query_text(Some("  ".to_owned())), Ok(None));
    }

    #[test]
    fn choices_compare_the_text_sent() {
        use crate::domain::ticket::Priority;
        let c = |raw: &Raw| choice::<Priority>(Some(raw));
        assert_eq!(c(&t(" 2 ")), Ok(Priority::Medium));
        assert_eq!(c(&Raw::Json(json!(3))), Ok(Priority::High));
        assert_eq!(c(&t("")), Err(invalid_choice("")));
        assert_eq!(c(&t("02")), Err(invalid_choice("02")));
        assert_eq!(c(&Raw::Json(json!(true))), Err(invalid_choice("True")));
        assert_eq!(
            choice_list::<Priority>(&[t("1, 3"), t("2")]),
            Ok(vec![Priority::Low, Priority::High, Priority::Medium])
        );
        assert_eq!(
            choice_list::<Priority>(&[t("1,x")]),
            Err(invalid_choice("x"))
        );
    }

    #[test]
    fn ids_accept_integers_and_digit_strings_only() {
        assert_eq!(pk(Some(&t("7"))).map(|p| p.id), Ok(Some(7)));
        assert_eq!(pk(Some(&t(""))), Err(NULL.to_owned()));
        assert_eq!(pk(Some(&t("abc"))), Err(incorrect_pk_type("str")));
        assert_eq!(
            pk(Some(&Raw::Json(json!(1.5)))),
            Err(incorrect_pk_type("float"))
        );
        assert_eq!(
            pk(Some(&Raw::Json(json!([1])))),
            Err(incorrect_pk_type("list"))
        );
        assert_eq!(
            pk(Some(&Raw::Json(json!({"a": 1})))),
            Err(incorrect_pk_type("dict"))
        );
        assert_eq!(
            pk(Some(&Raw::Json(json!(false)))),
            Err(incorrect_pk_type("bool"))
        );
        let huge = pk(Some(&t("99999999999999999999999")));
        assert_eq!(huge.map(|p| p.id), Ok(None));
    }

    #[test]
    fn lists_take_every_encoding_and_drop_duplicates() -> Result<(), String> {
        let ids = |r: Vec<Result<PkRef, String>>| -> Vec<Option<i64>> {
            r.into_iter().map(|p| p.ok().and_then(|p| p.id)).collect()
        };
        assert_eq!(
            ids(pk_list(&[t("1"), t("2"), t("1")])?),
            vec![Some(1), Some(2)]
        );
        assert_eq!(
            ids(pk_list(&[t("1, 2,3")])?),
            vec![Some(1), Some(2), Some(3)]
        );
        assert_eq!(
            ids(pk_list(&[Raw::Json(json!([3, "4"]))])?),
            vec![Some(3), Some(4)]
        );
        assert_eq!(pk_list(&[]), Err(REQUIRED.to_owned()));
        assert_eq!(pk_list(&[t("")]), Err(EMPTY_LIST.to_owned()));
        assert_eq!(pk_list(&[Raw::Json(json!([]))]), Err(EMPTY_LIST.to_owned()));
        let bad = pk_list(&[t("1,x")])?;
        assert_eq!(bad[1], Err(incorrect_pk_type("str")));
        Ok(())
    }

    #[test]
    fn query_integers_fit_64_bits() {
        assert_eq!(query_integer(None), Ok(None));
        assert_eq!(query_integer(Some("")), Ok(None));
        assert_eq!(query_integer(Some("-3")), Ok(Some(-3)));
        assert_eq!(query_integer(Some("1.0")), Err(()));
        assert_eq!(query_integer(Some("99999999999999999999")), Err(()));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;
    use serde_json::Value as Json;

    use super::*;

    fn json_values() -> impl Strategy<Value = Json> {
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(Json::from),
            any::<u64>().prop_map(Json::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
            ".{0,20}".prop_map(Json::String),
        ];
        leaf.prop_recursive(2, 8, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                proptest::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    fn raws() -> impl Strategy<Value = Raw> {
        prop_oneof![
            ".{0,40}".prop_map(Raw::Text),
            json_values().prop_map(Raw::Json)
        ]
    }

    proptest! {
        #[test]
        fn texts_are_trimmed_bounded_and_never_blank(raw in raws(), max in 1usize..50) {
            if let Ok(text) = text(Some(&raw), max) {
                prop_assert!(!text.is_empty());
                prop_assert_eq!(text.trim(), text.as_str());
                prop_assert!(text.chars().count() <= max);
                prop_assert!(!has_nul(&text));
            }
        }

        #[test]
        fn ids_are_integers_and_messages_end_with_a_full_stop(raw in raws()) {
            match pk(Some(&raw)) {
                Ok(pk) => {
                    let digits = pk.sent.strip_prefix('-').unwrap_or(&pk.sent);
                    prop_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
                    if let Some(id) = pk.id {
                        prop_assert_eq!(id.to_string().parse::<i64>().ok(), Some(id));
                    }
                }
                Err(message) => prop_assert!(message.ends_with('.')),
            }
            for message in [ticket_ref(Some(&raw)).err().map(str::to_owned), choice::<crate::domain::ticket::Priority>(Some(&raw)).err(), status_choice::<crate::domain::ticket::CustomerStatusRequest>(Some(&raw)).err()].into_iter().flatten() {
                prop_assert!(message.ends_with('.'), "{}", message);
            }
        }

        #[test]
        fn id_lists_never_repeat_an_id(raws in proptest::collection::vec(raws(), 0..4)) {
            if let Ok(items) = pk_list(&raws) {
                prop_assert!(!items.is_empty());
                let ids: Vec<i64> = items.iter().filter_map(|i| i.as_ref().ok().and_then(|p| p.id)).collect();
                let unique: std::collections::HashSet<_> = ids.iter().collect();
                prop_assert_eq!(unique.len(), ids.len());
            }
        }

        #[test]
        fn choices_yield_the_code_sent(raw in raws()) {
            use crate::domain::people::Role;
            use crate::domain::ticket::Priority;
            if let Ok(p) = choice::<Priority>(Some(&raw)) {
                let sent = match &raw { Raw::Text(s) | Raw::Json(Json::String(s)) => s.trim().to_owned(), Raw::Json(j) => j.to_string() };
                prop_assert_eq!(p.code_text(), sent.as_str());
            }
            if let Err(message) = choice::<Role>(Some(&raw)) {
                prop_assert!(message.ends_with('.'));
            }
        }

        #[test]
        fn pages_are_bounded(offset in ".{0,8}", limit in ".{0,8}", max in 1i64..2000) {
            let mut q = Fields::default();
            q.push("offset".to_owned(), Raw::Text(offset));
            q.push("limit".to_owned(), Raw::Text(limit));
            let (offset, limit) = page(&q, 50, max);
            if let Ok(offset) = offset { prop_assert!(offset >= 0); }
            if let Ok(limit) = limit { prop_assert!((1..=max).contains(&limit)); }
        }

        #[test]
        fn every_field_error_is_reported_together(a in raws(), b in raws(), c in raws()) {
            let fields = (
                field("a", text(Some(&a), 10)),
                field("b", pk(Some(&b))),
                field("c", crate::domain::password::field(Some(&c))),
            );
            let failing: Vec<&str> = [("a", fields.0.is_err()), ("b", fields.1.is_err()), ("c", fields.2.is_err())]
                .into_iter().filter(|(_, e)| *e).map(|(n, _)| n).collect();
            match fields.all() {
                Ok(_) => prop_assert!(failing.is_empty()),
                Err(errors) => {
                    let named: Vec<&str> = errors.as_map().keys().map(String::as_str).collect();
                    prop_assert_eq!(named, failing);
                }
            }
        }

        #[test]
        fn emails_are_normalised_and_passwords_kept_exactly(raw in raws()) {
            if let Ok(email) = crate::domain::people::email_field(Some(&raw), true) {
                prop_assert_eq!(email.trim(), email.as_str());
                prop_assert_eq!(email.to_lowercase(), email.clone());
                prop_assert!(crate::domain::people::is_plausible_email(&email));
                prop_assert!(!has_nul(&email));
            }
            if let Ok(password) = crate::domain::password::field(Some(&raw)) {
                prop_assert!(matches!(&raw, Raw::Text(s) | Raw::Json(Json::String(s)) if *s == password));
            }
        }

        #[test]
        fn query_integers_round_trip(n in any::<i64>(), junk in "[^0-9-]{1,5}") {
            prop_assert_eq!(query_integer(Some(&n.to_string())), Ok(Some(n)));
            let with_junk = format!("{n}{junk}");
            prop_assert!(query_integer(Some(&with_junk)).is_err() || junk.trim().is_empty());
        }
    }
}
